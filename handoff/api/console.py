"""The agent console's API: queue, own conversations, one conversation, agent actions."""

from __future__ import annotations

import json
import logging

from fastapi import APIRouter
from pydantic import BaseModel, Field

from ..core import copy_vi
from ..core.views import (
    AgentRow,
    AssistResult,
    ConversationDetail,
    ConversationList,
    ConversationResult,
    EarlierList,
    Me,
    QueueList,
    ReplyResult,
    SlaTargets,
)
from ..inputs import clean_text
from ..settings import HubSettings
from .deps import ConversationId, CurrentAgent, HubDep, SettingsDep, errors

log = logging.getLogger(__name__)

# Every route needs a logged-in agent (401); writes also the anti-CSRF header (403).
router = APIRouter(prefix="/api/console", tags=["console"], responses=errors(401))
# Acting on a conversation: someone else's or a vanished one (403/404), a state that moved
# on (409), a path parameter FastAPI refused (422).
ACTION_ERRORS = errors(403, 404, 409, 422)
# A JSON body: unreadable or refused by the hub's input checks (400), too large (413), not
# the route's shape (422).
BODY_ERRORS = errors(400, 413, 422)


class ReplyBody(BaseModel):
    text: str


class TransferBody(BaseModel):
    to_agent_id: int | None = None
    to_team: str | None = Field(default=None, max_length=64)
    note: str = Field(default="", max_length=1000)


class NoteBody(BaseModel):
    note: str = Field(default="", max_length=1000)


class StatusBody(BaseModel):
    status: str = Field(max_length=16)


class MeResult(BaseModel):
    agent: Me


class AgentList(BaseModel):
    agents: list[AgentRow]


class CannedList(BaseModel):
    replies: list[str]


@router.post("/status", response_model=MeResult, responses={**errors(403), **BODY_ERRORS})
async def set_status(body: StatusBody, agent: CurrentAgent, hub: HubDep) -> MeResult:
    """The agent's own availability (console header): `online` or `away`."""
    return MeResult(agent=await hub.set_status(agent, body.status))


@router.get("/queue", response_model=QueueList)
async def queue(agent: CurrentAgent, hub: HubDep, settings: SettingsDep) -> QueueList:
    return QueueList(
        queue=await hub.queue(),
        sla=SlaTargets(
            first_response_seconds=settings.sla_first_response_seconds,
            resolution_seconds=settings.sla_resolution_seconds,
        ),
        agents_online=hub.presence.agents_online(),
    )


@router.get("/mine", response_model=ConversationList)
async def mine(agent: CurrentAgent, hub: HubDep) -> ConversationList:
    return ConversationList(conversations=await hub.mine(agent))


@router.get(
    "/conversations/{cid}", response_model=ConversationDetail, responses=errors(404, 422)
)
async def conversation(cid: ConversationId, agent: CurrentAgent, hub: HubDep) -> ConversationDetail:
    return await hub.conversation_detail(cid)


@router.post(
    "/conversations/{cid}/claim", response_model=ConversationResult, responses=ACTION_ERRORS
)
async def claim(cid: ConversationId, agent: CurrentAgent, hub: HubDep) -> ConversationResult:
    return ConversationResult(conversation=await hub.claim(cid, agent))


@router.post(
    "/conversations/{cid}/reply",
    response_model=ReplyResult,
    responses={**ACTION_ERRORS, **BODY_ERRORS},
)
async def reply(
    cid: ConversationId, body: ReplyBody, agent: CurrentAgent, hub: HubDep, settings: SettingsDep
) -> ReplyResult:
    text = clean_text(body.text, settings.max_message_chars)
    return await hub.agent_reply(cid, agent, text)


@router.post(
    "/conversations/{cid}/transfer",
    response_model=ConversationResult,
    responses={**ACTION_ERRORS, **BODY_ERRORS},
)
async def transfer(
    cid: ConversationId, body: TransferBody, agent: CurrentAgent, hub: HubDep
) -> ConversationResult:
    conv = await hub.transfer(
        cid, agent, to_agent_id=body.to_agent_id, to_team=body.to_team, note=body.note.strip()
    )
    return ConversationResult(conversation=conv)


@router.post(
    "/conversations/{cid}/resolve",
    response_model=ConversationResult,
    responses={**ACTION_ERRORS, **BODY_ERRORS},
)
async def resolve(
    cid: ConversationId, agent: CurrentAgent, hub: HubDep, body: NoteBody | None = None
) -> ConversationResult:
    return ConversationResult(conversation=await hub.resolve(cid, agent, body.note if body else ""))


@router.post(
    "/conversations/{cid}/handback",
    response_model=ConversationResult,
    responses={**ACTION_ERRORS, **BODY_ERRORS},
)
async def handback(
    cid: ConversationId, agent: CurrentAgent, hub: HubDep, body: NoteBody | None = None
) -> ConversationResult:
    conv = await hub.handback(cid, agent, body.note if body else "")
    return ConversationResult(conversation=conv)


@router.get("/conversations/{cid}/assist", response_model=AssistResult, responses=errors(404, 422))
async def assist(cid: ConversationId, agent: CurrentAgent, hub: HubDep) -> AssistResult:
    """Help-center passages for the customer's recent words (agent assist)."""
    return await hub.assist(cid)


@router.get(
    "/conversations/{cid}/earlier", response_model=EarlierList, responses=errors(404, 422)
)
async def earlier(cid: ConversationId, agent: CurrentAgent, hub: HubDep) -> EarlierList:
    """The customer's other conversations on every channel (same phone number or e-mail)."""
    return EarlierList(conversations=await hub.earlier_conversations(cid))


@router.get("/agents", response_model=AgentList)
async def agents(agent: CurrentAgent, hub: HubDep) -> AgentList:
    return AgentList(agents=await hub.agents())


@router.get("/canned", response_model=CannedList)
async def canned(agent: CurrentAgent, settings: SettingsDep, hub: HubDep) -> CannedList:
    # Agents speak in the shop's voice too: the replies are rendered with its persona.
    return CannedList(replies=[hub.persona.render(r) for r in canned_replies(settings)])


def canned_replies(settings: HubSettings) -> list[str]:
    path = settings.canned_replies_file
    if path and path.is_file():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(data, list):
                return [str(x) for x in data]
        except ValueError:
            log.warning("canned replies file %s is not a JSON list", path)
    return copy_vi.DEFAULT_CANNED
