"""The channel seam: one small interface between a messaging platform and the hub core."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from ..core.views import Button, CustomerMessage


@dataclass(frozen=True)
class Attachment:
    kind: str  # image | file | sticker | audio | video | location | link | gif
    url: str | None = None
    name: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "url": self.url, "name": self.name}


@dataclass(frozen=True)
class InboundMessage:
    """One customer message as the core sees it, whatever platform it came from."""

    channel: str
    sender_id: str  # the customer's id on that channel (kept as a string)
    text: str = ""
    message_id: str | None = None  # the platform's id: a redelivery is answered once
    payload: str | None = None  # a button's payload (postback, quick reply)
    attachments: tuple[Attachment, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)
    # Channels open to anyone (web, REST) ask for rate limits per sender; the platforms'
    # signed webhooks do not (refusing a delivery only makes the platform send it again).
    rate_limited: bool = False
    # The sender's network address when it is a customer's own (the web widget): limits and
    # admission to the human queue also count per address.
    client_ip: str | None = None

    @property
    def bot_text(self) -> str:
        """What the bot reads: the button's payload when one was pressed, else the text."""
        return self.payload or self.text


# System notices that speak for an agent's action, not for the bot.
PERSON_NOTICES = frozenset({"agent_joined", "agent_left", "transferred"})


@dataclass(frozen=True)
class OutboundMessage:
    """A message for one customer on one channel (from the outbox), with what a platform's
    reply rules need: who wrote it and when the customer last wrote."""

    recipient_id: str
    message: CustomerMessage
    last_customer_at: datetime | None = None

    @property
    def by_person(self) -> bool:
        """Written by an agent, or the notice of an agent's own action ("Lan joined / left"):
        Messenger's HUMAN_AGENT tag allows these a longer window than the bot's messages."""
        return self.message.role == "agent" or self.message.notice in PERSON_NOTICES

    @property
    def text(self) -> str:
        return self.message.text

    @property
    def buttons(self) -> list[Button]:
        return self.message.buttons


class DeliveryError(Exception):
    """A send that did not go through. `permanent` failures are not retried (the agent sees
    the reason); transient ones are retried by the outbox with backoff."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


class Channel(Protocol):
    """What the core needs from a channel: its name, whether replies to an inbound message
    travel back in the inbound request itself, and a way to push a message.

    Optional members a channel may have (looked up with getattr, so the web and REST
    channels need not define them): `router` (a FastAPI APIRouter with its webhooks, mounted
    by the app), `numbered_buttons` (True when the platform has no buttons: the customer
    answers an offered choice with its number or title) and `reply_window(last_customer_at,
    by_person) -> datetime | None` (until when the platform accepts a message).
    """

    @property
    def name(self) -> str: ...

    @property
    def replies_inline(self) -> bool:
        """True when the bot's answers go back in the response to the customer's own request
        (REST webhook, socket.io ack); False for platforms that need a separate send
        (Messenger, Zalo), whose answers go through the outbox."""
        ...

    async def deliver(self, message: OutboundMessage) -> None:
        """Send one message; raise DeliveryError when it did not go through."""
        ...
