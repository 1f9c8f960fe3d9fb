"""Outside business hours a queued customer is invited to leave a phone/e-mail, which is
stored on the conversation, shown to agents and confirmed to the customer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from cskh.persona import DEFAULT as DEFAULT_PERSONA
from handoff.app import create_app
from handoff.core.copy_vi import CONTACT_INVITE as _INVITE_TEMPLATE
from handoff.core.hours import business_status
from handoff.core.hours import zone as _zone
from handoff.core.hub import Hub
from handoff.settings import HubSettings

from .conftest import agent_client, make_client, say
from .support import CannedRasa, KeywordTriage

CONTACT_INVITE = DEFAULT_PERSONA.render(_INVITE_TEMPLATE)


def _dump(view: Any) -> Any:
    return view.model_dump() if view is not None else None


def closed_hours(settings: HubSettings) -> str:
    """A one-hour window that does not contain the current Vietnam time."""
    now = datetime.now(UTC).astimezone(_zone(settings))
    return "01:00-02:00" if now.hour >= 12 else "20:00-21:00"


@pytest.fixture
async def closed_app(database_url: str) -> AsyncIterator[Any]:
    settings = HubSettings(database_url=database_url, business_days="1-7")
    settings = settings.model_copy(update={"business_hours": closed_hours(settings)})
    assert business_status(settings, datetime.now(UTC))[0] is False
    app = create_app(settings, rasa=CannedRasa(), triage=KeywordTriage())
    async with app.router.lifespan_context(app):
        yield app


async def test_contact_left_outside_hours_is_stored_and_shown(closed_app: Any) -> None:
    hub: Hub = closed_app.state.hub
    async with make_client(closed_app) as c:
        out = await say(c, "dem", "gặp nhân viên")
        # triage's out-of-hours words for the reason, not the reply promising someone soon
        assert out[0]["text"] == "Mình đã chuyển yêu cầu của bạn tới nhân viên."
        assert "ngoài giờ làm việc" in out[-1]["text"]
        assert CONTACT_INVITE in out[-1]["text"]  # the invitation comes with the opening time

        # A message without contact details: no confirmation, nothing stored.
        out = await say(c, "dem", "mình cần đổi địa chỉ giao hàng đơn DH123456")
        assert not any("ghi nhận" in m["text"] for m in out)
        conv = _dump(await hub.find_conversation(("rest",), "dem"))
        assert conv is not None and "contact" not in conv["profile"]

        out = await say(c, "dem", "Số mình là 0912.345.678, email Lan.Nguyen@Example.com nhé")
        assert len(out) == 1
        assert "ghi nhận" in out[0]["text"] and "0912345678" in out[0]["text"]
        conv = _dump(await hub.find_conversation(("rest",), "dem"))
        assert conv is not None and conv["state"] == "queued"
        contact = {"phones": ["0912345678"], "emails": ["lan.nguyen@example.com"]}
        assert conv["profile"]["contact"] == contact

        # The same contact again is not confirmed twice; a new one is merged.
        out = await say(c, "dem", "0912345678")
        assert not any("ghi nhận" in m["text"] for m in out)
        out = await say(c, "dem", "hoặc số bàn +84 28 3822 1234")
        assert "ghi nhận" in out[0]["text"]

        hist = (await c.get("/api/conversations/dem/history")).json()
        assert any("ghi nhận" in m["text"] for m in hist["messages"])

    # Agents see it on the conversation (the console header renders profile.contact).
    lan = await agent_client(closed_app, hub, "lan")
    data = (await lan.get(f"/api/console/conversations/{conv['id']}")).json()
    got = data["conversation"]["profile"]["contact"]
    assert got["phones"] == ["0912345678", "02838221234"]
    assert got["emails"] == ["lan.nguyen@example.com"]
    events = [e for e in data["events"] if e["kind"] == "contact"]
    assert len(events) == 2
    await lan.aclose()


async def test_out_of_hours_no_contact_asked_when_known_and_no_sla_clock(
    closed_app: Any,
) -> None:
    hub: Hub = closed_app.state.hub
    async with make_client(closed_app) as c:
        await say(c, "dem2", "máy giặt lỗi, sđt mình 0988 777 666")
        out = await say(c, "dem2", "gặp nhân viên")
        assert "ngoài giờ làm việc" in out[-1]["text"]
        assert CONTACT_INVITE not in out[-1]["text"]  # it was given already
    lan = await agent_client(closed_app, hub, "lan")
    queue = (await lan.get("/api/console/queue")).json()["queue"]
    handoff = next(q for q in queue if q["external_id"] == "dem2")["handoff"]
    # Out of hours the SLA clock does not run: nothing has been "waiting too long" at night.
    assert handoff["sla_elapsed"] == 0 and handoff["sla_running"] is False
    assert handoff["sla_measured_at"]
    await lan.aclose()


async def test_contact_not_taken_during_business_hours(client: httpx.AsyncClient, hub: Hub) -> None:
    # The default test settings are always open: no invitation, no capture.
    out = await say(client, "ngay", "gặp nhân viên")
    assert CONTACT_INVITE not in out[-1]["text"]
    await say(client, "ngay", "số mình 0912345678")
    conv = _dump(await hub.find_conversation(("rest",), "ngay"))
    assert conv is not None and "contact" not in conv["profile"]
