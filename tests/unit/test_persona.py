"""One voice: every text a customer can read from the bot, the action server or the hub is a
persona template (cskh/persona.py). Rendered with the default persona nothing says "bạn",
"mình" or "tôi"; rendered with another persona nothing of the default voice is left."""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path

import pytest
import yaml

from actions import actions, faq, orders
from cskh.persona import DEFAULT, Persona
from handoff.core import copy_vi
from handoff.settings import HubSettings

ROOT = Path(__file__).resolve().parents[2]


def _domain_texts() -> list[str]:
    domain = yaml.safe_load((ROOT / "bot" / "domain.yml").read_text(encoding="utf-8"))
    out = []
    for variants in domain["responses"].values():
        for v in variants:
            out.append(v["text"])
            out.extend(b["title"] for b in v.get("buttons") or [])
    return out


def _escalation_replies() -> list[str]:
    policy = yaml.safe_load((ROOT / "triage" / "escalation.yml").read_text(encoding="utf-8"))
    return [*policy["replies"].values(), *policy["replies_out_of_hours"].values()]


def _order_texts() -> list[str]:
    store = orders.OrderStore.load(ROOT / "actions" / "data" / "orders.json")
    cancelled = next(o for o in store._orders.values() if o.status == "da_huy")
    return [
        orders.ASK_CODE_TEXT, orders.LATE_ORDER_ASK_CODE_TEXT, orders.TOO_MANY_LOOKUPS_TEXT,
        orders.not_found_text("DH1"),
        orders.ask_last4_text("DH1"), orders.wrong_last4_text("DH1", 2),
        orders.locked_text("DH1"), orders.describe_order(cancelled),
    ]


def customer_texts() -> list[str]:
    texts = [
        *_domain_texts(), *_escalation_replies(), *_order_texts(),
        faq.NO_ANSWER_TEXT, faq.CHOICES_TEXT, faq.NOT_HELPFUL_TEXT, faq.NEXT_BEST_TEXT,
        actions.KB_UNAVAILABLE_TEXT,
        copy_vi.BOT_DOWN_REPLY, copy_vi.ESCALATION_REPLY, copy_vi.HANDED_OVER_CLOSED,
        copy_vi.PERSON_WILL_HELP, copy_vi.PERSON_WILL_HELP_CLAUSE,
        copy_vi.HANDOFF_NOT_ADMITTED,
        copy_vi.CSAT_QUESTION, copy_vi.CSAT_THANKS, copy_vi.CONTACT_INVITE,
        copy_vi.HANDED_BACK, copy_vi.TRANSFERRED_TO_TEAM, copy_vi.FOLLOW_UP_NOTED,
        copy_vi.WAIT_SHORT, copy_vi.ATTACHMENT_RECEIVED, copy_vi.MESSENGER_CHOOSE,
        copy_vi.ZALO_CHOICE_HINT, copy_vi.contact_thanks(["0912345678"], []),
        copy_vi.agent_joined("Lan"), copy_vi.agent_took_over("Lan"), copy_vi.agent_left("Lan"),
        copy_vi.queue_position(2, 5), copy_vi.nobody_online(2),
        copy_vi.out_of_hours(
            "08:00-21:00", copy_vi.local_time(datetime(2026, 1, 2, 8, 0), date(2026, 1, 1))
        ),
        *copy_vi.DEFAULT_CANNED, HubSettings().widget_welcome,
        copy_vi.error_text("rate_limited", {"retry_after": 3}),
        copy_vi.error_text("internal_error"),
    ]
    assert len(texts) > 50
    return texts


# The other voices a Vietnamese text can slip into ("bực mình" is "annoyed", not a pronoun).
OTHER_VOICES = re.compile(r"\b(bạn|tôi|chúng tôi|mình)\b", re.IGNORECASE)
DEFAULT_VOICE = re.compile(r"\b(em|anh/chị)\b|Sao Mai Shop", re.IGNORECASE)


@pytest.mark.parametrize("template", customer_texts())
def test_default_persona_speaks_one_voice(template: str) -> None:
    text = DEFAULT.render(template)
    assert "$" not in text, text  # every placeholder known
    assert not OTHER_VOICES.search(text.replace("bực mình", "")), text


@pytest.mark.parametrize("template", customer_texts())
def test_another_persona_leaves_nothing_of_the_default_voice(template: str) -> None:
    persona = Persona(shop="Tiệm Hoa Mai", self_name="mình", customer="bạn")
    text = persona.render(template)
    assert not DEFAULT_VOICE.search(text), text


def test_capitalised_placeholders_start_sentences() -> None:
    persona = Persona(shop="Tiệm Hoa Mai", self_name="mình", customer="bạn")
    assert persona.render("$Kh chọn giúp $em nhé. $Em cảm ơn $kh, $shop.") == (
        "Bạn chọn giúp mình nhé. Mình cảm ơn bạn, Tiệm Hoa Mai."
    )
    assert persona.render("giá 20$ hoặc $unknown") == "giá 20$ hoặc $unknown"
