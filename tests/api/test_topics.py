"""The widget's suggested topics: the articles the bot answered most, over the real app and DB.

The bot's answers get into the database the way they do in production: customers write to
the REST webhook, the hub asks the bot and stores its messages with their `cskh_meta`. The
bot here is a stand-in answering from a small table of real help-center articles.

Synchronous on purpose (Starlette's TestClient runs the app on its own thread and loop): the
module then also runs in one pytest session after the browser tests, whose Playwright keeps
an event loop running on the main thread.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text
from starlette.testclient import TestClient

from cskh.paths import ARTICLES_DIR
from handoff.app import create_app
from handoff.core.hub import Hub
from handoff.settings import HubSettings
from handoff.store.models import utcnow
from knowledge_base.ingest import read_articles

from .support import CannedRasa, KeywordTriage

# What the stand-in bot answers (a confident FAQ answer naming the article), by keyword.
ANSWERS = {
    "phí ship": ("phi-van-chuyen", "Phí vận chuyển"),
    "đổi trả": ("chinh-sach-doi-tra", "Chính sách đổi trả hàng"),
    "bảo hành": ("chinh-sach-bao-hanh", "Chính sách bảo hành"),
    "trả góp": ("tra-gop-0-phan-tram", "Trả góp 0% qua thẻ tín dụng và công ty tài chính"),
}
# A weak match: the bot only offered titles, which says nothing about what was answered.
CHOICES = (
    "thanh toán",
    [("loi-thanh-toan", "Thanh toán không thành công hoặc bị trừ tiền hai lần")],
)


class HelpCenterRasa(CannedRasa):
    async def send(
        self, sender: str, message: str, metadata: dict[str, Any]
    ) -> list[dict[str, Any]]:
        self.calls.append({"sender": sender, "message": message, "metadata": metadata})
        for keyword, (article_id, title) in ANSWERS.items():
            if keyword in message:
                return _reply(
                    sender, f"Dạ theo bài {title} ạ.", "faq_answer", [(article_id, title)]
                )
        if CHOICES[0] in message:
            return _reply(sender, "Dạ anh/chị chọn giúp em nhé.", "faq_choices", CHOICES[1])
        return [{"recipient_id": sender, "text": "Dạ em chưa hiểu ạ."}]


def _reply(
    sender: str, answer: str, kind: str, articles: list[tuple[str, str]]
) -> list[dict[str, Any]]:
    meta = {
        "kind": kind,
        "confident": kind == "faq_answer",
        "articles": [
            {"id": a, "title": t, "url": f"https://saomaishop.vn/ho-tro/{a}", "score": 0.8}
            for a, t in articles
        ],
        "query": answer,
    }
    return [
        {"recipient_id": sender, "text": answer},
        {"recipient_id": sender, "custom": {"cskh_meta": meta}},
    ]


@pytest.fixture
def api(settings: HubSettings) -> Iterator[TestClient]:
    app = create_app(settings, rasa=HelpCenterRasa(), triage=KeywordTriage())
    with TestClient(app) as client:
        yield client


def _hub(client: TestClient) -> Hub:
    hub: Hub = client.app.state.hub  # type: ignore[attr-defined]
    return hub


def say(client: TestClient, sender: str, message: str) -> None:
    r = client.post("/webhooks/rest/webhook", json={"sender": sender, "message": message})
    assert r.status_code == 200, r.text


def _topics(client: TestClient) -> list[tuple[str, str | None]]:
    r = client.get("/api/widget/topics", headers={"Origin": "https://shop.example.vn"})
    assert r.status_code == 200, r.text
    # Fetched by the widget from the shop's own site.
    assert r.headers["access-control-allow-origin"] in {"*", "https://shop.example.vn"}
    return [(t["title"], t["article_id"]) for t in r.json()["topics"]]


def test_an_empty_help_desk_offers_the_configured_titles(
    api: TestClient, settings: HubSettings
) -> None:
    got = _topics(api)
    assert got == [(title, None) for title in settings.widget_topics[:4]]
    assert 3 <= len(got) <= 4


def test_the_most_asked_articles_come_first_then_the_defaults(
    api: TestClient, settings: HubSettings
) -> None:
    for n in range(4):
        say(api, f"ship-{n}", "phí ship ra Hà Nội bao nhiêu?")
    for n in range(3):
        say(api, f"doitra-{n}", "đổi trả thế nào")
    # Many answers but one customer: not what customers in general ask.
    for _ in range(5):
        say(api, "baohanh-0", "bảo hành bao lâu")
    for n in range(2):
        say(api, f"tragop-{n}", "trả góp được không")
    for n in range(5):
        say(api, f"choices-{n}", "thanh toán")

    got = _topics(api)

    popular = [
        ("Phí vận chuyển", "phi-van-chuyen"),
        ("Chính sách đổi trả hàng", "chinh-sach-doi-tra"),
    ]
    assert got[:2] == popular
    # The rest are configured titles, none repeating an article already offered.
    fill = [t for t in settings.widget_topics if t not in {title for title, _ in popular}]
    assert got[2:] == [(title, None) for title in fill[:2]]
    titles = [title for title, _ in got]
    assert "Chính sách bảo hành" not in titles
    assert "Thanh toán không thành công hoặc bị trừ tiền hai lần" not in titles


def test_answers_older_than_the_window_no_longer_count(
    api: TestClient, settings: HubSettings
) -> None:
    for n in range(3):
        say(api, f"old-{n}", "trả góp được không")
    with _hub(api).store.write() as s:
        s.execute(text("UPDATE messages SET created_at = :t"), {"t": utcnow() - timedelta(days=45)})
    got = _topics(api)
    assert got == [(title, None) for title in settings.widget_topics[:4]]


def test_the_default_titles_are_real_help_center_articles() -> None:
    titles = {article.title for article in read_articles(ARTICLES_DIR)}
    defaults = HubSettings().widget_topics
    assert 3 <= len(defaults) <= 4
    assert set(defaults) <= titles, set(defaults) - titles


def test_the_default_titles_are_configurable_as_a_json_list(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    mine = ["Xuất hóa đơn VAT và hóa đơn điện tử", "Mã giảm giá, voucher và quy định áp dụng"]
    monkeypatch.setenv("CSKH_HUB_WIDGET_TOPICS", '["' + '", "'.join(mine) + '"]')
    assert HubSettings().widget_topics == mine
