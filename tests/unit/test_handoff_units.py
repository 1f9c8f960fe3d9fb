"""Pure logic of the hub: settings, password hashing, input cleaning, CSAT, hours, waits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from handoff import auth
from handoff.core.hours import business_seconds, business_status, wait_estimate_seconds
from handoff.core.hub import parse_csat
from handoff.inputs import InputError, clean_metadata, clean_sender, clean_text
from handoff.settings import HubSettings


def test_settings_defaults_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CSKH_HUB_DATABASE_URL", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    s = HubSettings()
    assert s.database_url == "sqlite:///var/hub.db" and s.port == 8000
    assert s.sqlalchemy_url().startswith("sqlite:////") and s.sqlalchemy_url().endswith(
        "var/hub.db"
    )
    monkeypatch.setenv("DATABASE_URL", "postgres://u@h/db")
    assert HubSettings().sqlalchemy_url() == "postgresql+psycopg://u@h/db"
    monkeypatch.setenv("CSKH_HUB_RASA_URL", "http://rasa:5005")
    assert HubSettings().rasa_url == "http://rasa:5005"


def test_production_requires_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSKH_HUB_ENV", "production")
    monkeypatch.delenv("CSKH_HUB_SECRET_KEY", raising=False)
    with pytest.raises(ValueError, match="CSKH_HUB_SECRET_KEY"):  # pydantic wraps ConfigError
        HubSettings()
    monkeypatch.setenv("CSKH_HUB_SECRET_KEY", "s3cret")
    assert HubSettings().effective_secret_key == "s3cret"


def test_scrypt_hashing() -> None:
    h = auth.hash_password("mật khẩu dài")
    assert h.startswith("scrypt$") and "mật" not in h
    assert auth.verify_password("mật khẩu dài", h)
    assert not auth.verify_password("mat khau dai", h)
    assert not auth.verify_password("x", "garbage")
    assert auth.hash_password("a-password") != auth.hash_password("a-password")  # salted


def test_clean_text() -> None:
    assert clean_text("  xin\u200b cha\u0300o\x00 ", 100) == "xin chào"  # NFC, no controls
    with pytest.raises(InputError) as e:
        clean_text(" \n ", 100)
    assert e.value.status_code == 422
    with pytest.raises(InputError) as e:
        clean_text("a" * 101, 100)
    assert e.value.status_code == 413
    with pytest.raises(InputError) as e:
        clean_text("\ud800", 100)
    assert e.value.status_code == 400
    with pytest.raises(InputError):
        clean_sender("x" * 200)
    assert clean_sender(12345) == "12345"


def test_client_metadata_is_allow_listed_scalar_and_capped() -> None:
    raw = {
        "language": "vi", "page_url": "https://shop.vn/" + "a" * 2000, "page_title": "Giỏ hàng",
        "nested": {"x": 1}, "page_id": ["a"], "referrer": "\ud800", "timestamp": 17,
        "cskh_query_vector": "forged",
    }
    kept = clean_metadata(raw, HubSettings().client_metadata_keys, 300)
    assert kept["language"] == "vi" and kept["timestamp"] == 17
    # Too long for what is left of the cap: dropped, the later small keys still fit.
    assert "page_url" not in kept and kept["page_title"] == "Giỏ hàng"
    assert not {"nested", "page_id", "referrer", "cskh_query_vector"} & set(kept)
    assert len(clean_metadata(raw, ("page_url",), 10_000)["page_url"]) == 512


@pytest.mark.parametrize(
    ("text", "score"),
    [("5", 5), (" 3 sao", 3), ('/csat{"score":1}', 1), ("6", None), ("5 phút nữa", None)],
)
def test_parse_csat(text: str, score: int | None) -> None:
    assert parse_csat(text) == score


def test_business_hours() -> None:
    s = HubSettings(business_hours="08:00-21:00", business_days="1-5")
    # 2026-01-05 is a Monday; 02:00 UTC = 09:00 in Vietnam.
    assert business_status(s, datetime(2026, 1, 5, 2, 0, tzinfo=UTC)) == (True, None)
    closed, opens = business_status(s, datetime(2026, 1, 5, 15, 0, tzinfo=UTC))  # 22:00 VN
    assert not closed and opens == datetime(2026, 1, 6, 1, 0, tzinfo=UTC)  # 08:00 VN Tue
    _, opens = business_status(s, datetime(2026, 1, 9, 15, 0, tzinfo=UTC))  # Fri 22:00 VN
    assert opens == datetime(2026, 1, 12, 1, 0, tzinfo=UTC)  # Monday 08:00 VN


def test_round_the_clock_and_bad_hours() -> None:
    s = HubSettings(business_hours="00:00-24:00", business_days="1-7")
    for hour in (0, 14, 16, 17, 23):  # 17:00 UTC is midnight in Vietnam
        for minute in (0, 59):
            at = datetime(2026, 12, 6, hour, minute, 59, tzinfo=UTC)  # a Sunday
            assert business_status(s, at) == (True, None), at
    day = datetime(2026, 12, 6, 17, 0, tzinfo=UTC)
    assert business_seconds(s, day, day + timedelta(days=1)) == pytest.approx(86400, abs=1e-3)
    for bad in ("21:00-08:00", "08:00-08:00", "08:00-25:00", "8h-21h"):
        with pytest.raises(ValueError, match="business_hours"):
            HubSettings(business_hours=bad)


def test_sla_counts_business_hours_only() -> None:
    s = HubSettings(business_hours="08:00-21:00", business_days="1-5")
    # Queued Friday 20:30 (13:30 UTC), now Monday 08:10 (01:10 UTC): 30 min on Friday,
    # nothing over the weekend, 10 min on Monday.
    queued = datetime(2026, 1, 9, 13, 30, tzinfo=UTC)
    now = datetime(2026, 1, 12, 1, 10, tzinfo=UTC)
    assert business_seconds(s, queued, now) == 40 * 60
    # 3 a.m. to 3:02 a.m.: no business time has passed.
    night = datetime(2026, 1, 5, 20, 0, tzinfo=UTC)  # 03:00 Tuesday in Vietnam
    assert business_seconds(s, night, night.replace(minute=2)) == 0
    assert business_seconds(s, now, queued) == 0


def test_wait_estimate() -> None:
    assert wait_estimate_seconds(1, 2, 240) == 120
    assert wait_estimate_seconds(5, 2, 240) == 600
    assert wait_estimate_seconds(3, 0, 240) == 600  # nobody online: counts one agent
    # Two free seats: the first two in line are picked up about now; the third waits for
    # a round of the two agents.
    assert wait_estimate_seconds(2, 2, 240, free_slots=2) == 60
    assert wait_estimate_seconds(3, 2, 240, free_slots=2) == 120


def test_bot_uttered_is_exactly_rasas_socketio_output() -> None:
    from handoff.channels.web import bot_uttered
    from handoff.core.views import Button, CustomerMessage

    plain = CustomerMessage(id=1, role="bot", text="Xin chào!\n\nEm giúp gì được ạ?")
    # Rasa splits a text at blank lines into one bubble each.
    assert bot_uttered(plain) == [{"text": "Xin chào!"}, {"text": "Em giúp gì được ạ?"}]
    with_buttons = CustomerMessage(
        id=2,
        role="bot",
        text="Phí ship 20.000đ.\n\nCó giúp được không?",
        buttons=[Button(title="Có", payload="/feedback_helpful")],
    )
    assert bot_uttered(with_buttons) == [
        {"text": "Phí ship 20.000đ.", "quick_replies": []},
        {
            "text": "Có giúp được không?",
            "quick_replies": [
                {"content_type": "text", "title": "Có", "payload": "/feedback_helpful"}
            ],
        },
    ]
    image = CustomerMessage(
        id=3,
        role="bot",
        text="",
        attachment={"type": "image", "payload": {"src": "http://x/a.png"}},
    )
    assert bot_uttered(image) == [
        {"attachment": {"type": "image", "payload": {"src": "http://x/a.png"}}}
    ]


def test_a_numbered_choice_is_read_by_number_or_title() -> None:
    from handoff.core.hub import pick_button

    offered = [
        {"title": "Có, cảm ơn", "payload": "/feedback_helpful"},
        {"title": "Chưa giúp được", "payload": "/feedback_not_helpful"},
    ]
    assert pick_button(offered, "2") == "/feedback_not_helpful"
    assert pick_button(offered, " 1. ") == "/feedback_helpful"
    # Customers type without diacritics: the title matches folded.
    assert pick_button(offered, "chua giup duoc") == "/feedback_not_helpful"
    assert pick_button(offered, "3") is None
    assert pick_button(offered, "có thể đổi hàng không") is None
    assert pick_button([], "1") is None


def test_test_stacks_are_open_round_the_clock_unless_told_otherwise(tmp_path: Path) -> None:
    from cskh.stack import StackConfig

    env = StackConfig.isolated(tmp_path).extra_env
    settings = HubSettings(business_hours=env["CSKH_HUB_BUSINESS_HOURS"],
                           business_days=env["CSKH_HUB_BUSINESS_DAYS"])
    sunday_night = datetime(2026, 12, 6, 16, 30, tzinfo=UTC)  # 23:30 in Vietnam
    assert business_status(settings, sunday_night) == (True, None)
    closed = {"CSKH_HUB_BUSINESS_HOURS": "01:00-02:00"}
    assert StackConfig.isolated(tmp_path, extra_env=closed).extra_env[
        "CSKH_HUB_BUSINESS_HOURS"] == "01:00-02:00"
