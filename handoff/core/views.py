"""The typed shapes the hub hands out: use-case results, HTTP response models, socket payloads.

Built by the store from its rows (no lazy loading crosses a thread) and serialised as JSON by
the adapters. Field names are the console's and the widget's contract (docs/contracts.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field, field_serializer

from .sessions import public_ref


@dataclass(frozen=True)
class AgentInfo:
    """Who is acting: the logged-in agent, as the use cases see them."""

    id: int
    username: str
    display_name: str
    role: str
    team: str | None

    @property
    def is_supervisor(self) -> bool:
        return self.role == "supervisor"

    def public(self) -> AgentRef:
        return AgentRef(
            id=self.id,
            username=self.username,
            display_name=self.display_name,
            role=self.role,
            team=self.team,
        )


class AgentRef(BaseModel):
    id: int
    username: str
    display_name: str
    role: str
    team: str | None = None


class AgentRow(AgentRef):
    active: bool
    status: str
    capacity: int


class AgentStatus(BaseModel):
    status: str
    capacity: int
    load: int


class Me(AgentRef):
    status: str
    capacity: int
    load: int


class Button(BaseModel):
    title: str
    payload: str


class Delivery(BaseModel):
    """Where an outbound message stands on its channel (outbox row)."""

    status: str  # pending | sending | sent | failed
    attempts: int = 0
    error: str | None = None


class MessageView(BaseModel):
    """A stored message as agents see it."""

    id: int
    conversation_id: str
    role: str  # user | bot | agent | system
    text: str
    buttons: list[Button] = Field(default_factory=list)
    notice: str | None = None
    cskh_meta: list[dict[str, Any]] = Field(default_factory=list)
    attachments: list[dict[str, Any]] = Field(default_factory=list)
    # A bot message's Rasa attachment / custom payload, passed to channels as Rasa sent it.
    attachment: dict[str, Any] | None = None
    custom: dict[str, Any] | None = None
    sentiment: dict[str, Any] | None = None
    agent_id: int | None = None
    agent_name: str | None = None
    created_at: str | None = None
    delivery: Delivery | None = None
    # The bot answered this while the customer waited for a person (the agent should know
    # what the customer has already been told).
    while_queued: bool = False

    @property
    def visible_to_customer(self) -> bool:
        content = self.text or self.buttons or self.attachments or self.attachment or self.custom
        return bool(content) and self.notice != "internal_note"

    def for_customer(self) -> CustomerMessage:
        return CustomerMessage(
            id=self.id,
            role=self.role,
            text=self.text,
            buttons=self.buttons,
            notice=self.notice,
            attachments=self.attachments,
            attachment=self.attachment,
            custom=self.custom,
            agent_name=self.agent_name if self.role == "agent" else None,
            created_at=self.created_at,
        )


class CustomerMessage(BaseModel):
    """What a customer may see of a message: never hub metadata, sentiment or agent ids."""

    id: int
    role: str
    text: str
    buttons: list[Button] = Field(default_factory=list)
    notice: str | None = None
    attachments: list[dict[str, Any]] = Field(default_factory=list)
    attachment: dict[str, Any] | None = None
    custom: dict[str, Any] | None = None
    agent_name: str | None = None
    created_at: str | None = None


class HandoffView(BaseModel):
    id: int
    reasons: list[str]
    priority: int
    summary: dict[str, Any] | None = None
    queued_at: str | None = None
    assigned_at: str | None = None
    first_response_at: str | None = None
    first_response_elapsed: float
    open_elapsed: float
    # The SLA clock in business hours (first response until then, resolution after):
    # `sla_elapsed` seconds at `sla_measured_at`, still running if `sla_running`.
    sla_elapsed: float | None = None
    sla_running: bool = False
    sla_measured_at: str | None = None


class ConversationView(BaseModel):
    """A conversation as a console card and header: everything without the transcript."""

    id: str
    channel: str
    # The customer's id on the channel. A web session id is the customer's credential (it
    # opens their history), so outside the hub it is shown only as a reference derived from
    # it (`sessions.public_ref`); agents never receive it.
    external_id: str
    state: str
    priority: int
    team: str | None = None
    flag: str | None = None
    csat_pending: bool = False
    profile: dict[str, Any] = Field(default_factory=dict)
    assigned_agent: AgentRef | None = None
    queued_at: str | None = None
    wait_seconds: float | None = None
    created_at: str | None = None
    updated_at: str | None = None
    last_customer_at: str | None = None
    last_message: str | None = None
    last_sentiment: dict[str, Any] | None = None
    handoff: HandoffView | None = None
    position: int | None = None  # in the queue, for queued conversations
    # Until when the customer's platform accepts an agent's message (Messenger, Zalo).
    reply_window_ends_at: str | None = None

    @field_serializer("external_id")
    def _shown_id(self, external_id: str) -> str:
        return public_ref(external_id) if self.channel == "web" else external_id


class EventView(BaseModel):
    id: int
    kind: str
    from_state: str | None = None
    to_state: str | None = None
    reason: str
    actor_agent_id: int | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    created_at: str | None = None


class ConversationDetail(BaseModel):
    conversation: ConversationView
    messages: list[MessageView]
    events: list[EventView]


class QueueStatus(BaseModel):
    position: int | None
    eta_seconds: int | None
    open: bool
    opens_at: str | None = None


class History(BaseModel):
    """A web/REST customer's own view of their conversation (widget reload, REST polling)."""

    session_id: str
    state: str
    agent_name: str | None = None
    messages: list[CustomerMessage]
    queue: QueueStatus | None = None


class SlaTargets(BaseModel):
    first_response_seconds: int
    resolution_seconds: int


class QueueList(BaseModel):
    queue: list[ConversationView]
    sla: SlaTargets
    agents_online: int


class ConversationList(BaseModel):
    conversations: list[ConversationView]


class ReplyResult(BaseModel):
    """An agent's reply: the stored message (with its delivery) and the conversation after it,
    so the console updates without fetching anything again."""

    message: MessageView
    conversation: ConversationView


class ConversationResult(BaseModel):
    conversation: ConversationView


class AssistHit(BaseModel):
    article_id: str
    title: str
    section: str
    url: str
    text: str
    score: float


class EarlierConversation(BaseModel):
    """Another conversation of the same customer (a phone number or e-mail in common)."""

    id: str
    channel: str
    state: str
    updated_at: str | None
    matched: list[str]  # the shared phone numbers / e-mails
    issue: str | None = None  # its handoff summary's one line, if it was handed off
    last_message: str | None = None
    handoffs: int = 0


class EarlierList(BaseModel):
    conversations: list[EarlierConversation]


class AssistResult(BaseModel):
    available: bool
    hits: list[AssistHit]


class ArticleGap(BaseModel):
    """A help-center article as the bot used it in the report's window."""

    article_id: str
    title: str
    url: str | None = None
    answers: int  # confident FAQ answers that named it
    # Hedged answers sent from it ("is this it?" with other titles beside it): since the bot
    # answers down to a search score of 0.30 most answers are hedged; a new field, so
    # readers of `answers` keep its meaning.
    hedged_answers: int = 0
    helpful: int  # "did this help?" yes, after one of those answers (confident or hedged)
    not_helpful: int  # ... and no
    handoffs_after: int  # handoffs queued within a few customer messages of the answer


class QuestionGroup(BaseModel):
    """Customer questions the bot had no article for, alike in wording."""

    count: int
    conversations: int
    example: str  # the most frequent wording
    variants: list[str]  # other wordings, most frequent first (up to 5)
    last_asked_at: str


class ContentGaps(BaseModel):
    """The supervisor's "what to write or fix next" report (GET /api/console/content-gaps)."""

    days: int
    since: str
    scanned_messages: int
    # True when the window holds more messages than the report reads (the newest are read).
    partial: bool
    articles: list[ArticleGap]  # most "not helpful" + handoffs first
    questions: list[QuestionGroup]  # biggest groups first
