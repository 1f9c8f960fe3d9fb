"""Part 1: the REST channel contract, persistence-first routing and input hygiene."""

from __future__ import annotations

from typing import Any

import httpx
import numpy as np
import pytest

from cskh import query_vector
from cskh.persona import DEFAULT as DEFAULT_PERSONA
from handoff.app import create_app
from handoff.core import copy_vi
from handoff.core.hub import Hub
from handoff.settings import HubSettings

from .conftest import CannedRasa, make_client, say
from .support import ALWAYS_OPEN, KeywordTriage

BOT_DOWN_REPLY = DEFAULT_PERSONA.render(copy_vi.BOT_DOWN_REPLY)


def _dump(view: Any) -> Any:
    return view.model_dump() if view is not None else None


async def _messages(hub: Hub, sender: str) -> list[dict[str, Any]]:
    conv = _dump(await hub.find_conversation(("rest",), sender))
    assert conv is not None
    return [m.model_dump() for m in (await hub.conversation_detail(conv["id"])).messages]


async def test_healthz(client: httpx.AsyncClient, rasa: CannedRasa) -> None:
    r = await client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "database": True, "rasa": True}
    rasa.down = True
    r = await client.get("/healthz")
    assert r.status_code == 200 and r.json()["rasa"] is False


async def test_rest_contract_and_meta_stripped(
    client: httpx.AsyncClient, hub: Hub, rasa: CannedRasa
) -> None:
    out = await say(client, "khach-1", "Phí giao hàng bao nhiêu?", message_id="m1")
    assert out == [
        {
            "recipient_id": "khach-1",
            "text": "Trả lời: Phí giao hàng bao nhiêu?",
            "buttons": [
                {"title": "Có", "payload": "/feedback_helpful"},
                {"title": "Không", "payload": "/feedback_not_helpful"},
            ],
        }
    ]
    # Forwarded to Rasa with the hub's conversation id and the channel in metadata.
    conv = _dump(await hub.find_conversation(("rest",), "khach-1"))
    assert conv is not None
    assert rasa.calls[-1]["sender"] == conv["id"]
    assert rasa.calls[-1]["metadata"]["channel"] == "rest"
    msgs = await _messages(hub, "khach-1")
    assert [m["role"] for m in msgs] == ["user", "bot"]
    assert msgs[0]["sentiment"]["label"] == "neutral"
    # cskh_meta is kept for triage on the stored bot message, never sent to the customer.
    assert msgs[1]["cskh_meta"][0]["kind"] == "faq_answer"
    assert "cskh_meta" not in str(out)


async def test_query_vector_goes_to_rasa_and_a_client_cannot_forge_it(
    client: httpx.AsyncClient, hub: Hub, rasa: CannedRasa
) -> None:
    forged = query_vector.encode("keyword-test", "x", np.array([99.0, 1.0]))
    await say(client, "khach-v", "Đổi trả thế nào?", cskh_query_vector=forged,
              page_url="/faq", cskh_message_id=999999, tracking={"blob": "x" * 60_000})
    sent = rasa.calls[-1]["metadata"]
    assert sent["page_url"] == "/faq"  # allow-listed client metadata still goes through
    assert "tracking" not in sent  # anything else does not reach Rasa or the database
    msgs = await _messages(hub, "khach-v")
    assert sent["cskh_message_id"] == msgs[0]["id"]  # the hub's id, not the client's
    text, vector = query_vector.decode(sent[query_vector.METADATA_KEY], "keyword-test", 2) or (
        "", np.zeros(2))
    # The hub's vector of this message (KeywordTriage: first component = length), not the
    # forged one, and the stored message does not keep the forged payload either.
    assert text == "đổi trả thế nào?"
    assert vector[0] / vector[1] == pytest.approx(len("Đổi trả thế nào?"))
    msgs = await _messages(hub, "khach-v")
    assert "cskh_query_vector" not in str(msgs[0]) and "blob" not in str(msgs[0])


async def test_query_vector_sharing_can_be_switched_off(tmp_path: Any) -> None:
    settings = HubSettings(database_url=f"sqlite:///{tmp_path / 'hub.db'}",
                           business_hours=ALWAYS_OPEN, share_query_vector=False)
    rasa = CannedRasa()
    app = create_app(settings, rasa=rasa, triage=KeywordTriage())
    async with app.router.lifespan_context(app), make_client(app) as c:
        await say(c, "khach-ab", "Đổi trả thế nào?")
    # No vector; the hub's id of the message (Rasa replays a message sent again).
    sent = rasa.calls[-1]["metadata"]
    assert sent == {"channel": "rest", "cskh_message_id": sent["cskh_message_id"]}
    assert isinstance(sent["cskh_message_id"], int)


async def test_duplicate_channel_message_is_ignored(
    client: httpx.AsyncClient, hub: Hub, rasa: CannedRasa
) -> None:
    await say(client, "khach-2", "xin chào", message_id="zalo-123")
    again = await say(client, "khach-2", "xin chào", message_id="zalo-123")
    assert again == []
    assert len(rasa.calls) == 1
    assert [m["role"] for m in await _messages(hub, "khach-2")] == ["user", "bot"]


async def test_rasa_down_message_kept_apology_and_flag(
    client: httpx.AsyncClient, hub: Hub, rasa: CannedRasa
) -> None:
    rasa.down = True
    out = await say(client, "khach-3", "Đơn DH123456 của tôi đâu?")
    assert out[0]["text"] == BOT_DOWN_REPLY
    msgs = await _messages(hub, "khach-3")
    assert msgs[0]["text"] == "Đơn DH123456 của tôi đâu?"
    conv = _dump(await hub.find_conversation(("rest",), "khach-3"))
    assert conv is not None and conv["flag"] == "bot_unavailable" and conv["state"] == "bot"
    # Second failure in a row: a person takes over instead of apologising forever.
    out = await say(client, "khach-3", "Alo?")
    conv = _dump(await hub.find_conversation(("rest",), "khach-3"))
    assert conv is not None and conv["state"] == "queued"
    assert any("hàng chờ" in m["text"] for m in out)
    # Rasa back: a new conversation works and the flag logic resets.
    rasa.down = False
    assert (await say(client, "khach-4", "chào"))[0]["text"] == "Trả lời: chào"


async def test_an_empty_bot_reply_is_a_bot_failure_not_silence(
    client: httpx.AsyncClient, hub: Hub, rasa: CannedRasa
) -> None:
    rasa.silent = True  # what Rasa returns while the action server is down
    out = await say(client, "khach-im", "phí ship bao nhiêu?")
    assert [m["text"] for m in out] == [BOT_DOWN_REPLY]
    conv = _dump(await hub.find_conversation(("rest",), "khach-im"))
    assert conv is not None and conv["flag"] == "bot_unavailable"
    rasa.silent = False
    out = await say(client, "khach-im", "phí ship bao nhiêu?")
    assert out[0]["text"] == "Trả lời: phí ship bao nhiêu?"
    conv = _dump(await hub.find_conversation(("rest",), "khach-im"))
    assert conv is not None and conv["flag"] is None and conv["state"] == "bot"


async def test_bad_inputs_store_nothing(client: httpx.AsyncClient, hub: Hub) -> None:
    url = "/webhooks/rest/webhook"
    r = await client.post(url, json={"sender": "x", "message": "   "})
    assert r.status_code == 422 and r.json()["error"] == "empty_message"
    r = await client.post(url, json={"sender": "x"})
    assert r.status_code == 422 and r.json()["error"] == "message_required"
    r = await client.post(url, json={"sender": "", "message": "hi"})
    assert r.status_code == 422 and r.json()["error"] == "sender_required"
    r = await client.post(url, json={"sender": "x", "message": "a" * 20_000})
    assert r.status_code == 413 and "5000" in r.json()["detail"]
    r = await client.post(url, content=b'{"sender": "x", "message": "caf\xe9 \xff"}')
    assert r.status_code == 400 and r.json()["error"] == "invalid_utf8"
    r = await client.post(url, content=b'{"sender": "x", "message": "\\ud800"}')
    assert r.status_code == 400 and r.json()["error"] == "invalid_text"
    r = await client.post(url, content=b"not json")
    assert r.status_code == 400 and r.json()["error"] == "invalid_json"
    r = await client.post(url, json=["sender", "message"])
    assert r.status_code == 422
    r = await client.post(url, content=b"x" * 100_000)
    assert r.status_code == 413 and r.json()["error"] == "body_too_large"
    assert _dump(await hub.find_conversation(("rest",), "x")) is None


async def test_control_chars_removed_and_html_stored_verbatim(
    client: httpx.AsyncClient, hub: Hub
) -> None:
    evil = "<script>alert('x')</script><img src=x onerror=alert(1)>"
    await say(client, "khach-5", "\u200bxin\x00 chào " + evil)
    msgs = await _messages(hub, "khach-5")
    # Stored as the customer's text (rendering as text is the front end's job).
    assert msgs[0]["text"] == "xin chào " + evil
    hist = (await client.get("/api/conversations/khach-5/history")).json()
    assert hist["messages"][0]["text"] == "xin chào " + evil


async def test_history_endpoint_hides_internal_data(client: httpx.AsyncClient) -> None:
    await say(client, "khach-6", "hello")
    hist = (await client.get("/api/conversations/khach-6/history")).json()
    assert hist["state"] == "bot"
    assert [m["role"] for m in hist["messages"]] == ["user", "bot"]
    assert all("sentiment" not in m and "cskh_meta" not in m for m in hist["messages"])
    empty = (await client.get("/api/conversations/nobody/history")).json()
    assert empty["messages"] == []


async def test_chat_page_and_widget_served(client: httpx.AsyncClient) -> None:
    page = await client.get("/")
    assert page.status_code == 200 and "widget.js" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    js = await client.get("/widget.js")
    assert js.status_code == 200 and "session_request" in js.text
    assert ".innerHTML" not in js.text and "insertAdjacentHTML" not in js.text
    vendor = await client.get("/static/vendor/socket.io.min.js")
    assert vendor.status_code == 200 and "Socket.IO v4" in vendor.text[:200]
