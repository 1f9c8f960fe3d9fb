"""What one hub process counts, for GET /metrics.

Each replica counts what it handled itself (scrape every replica and sum); the numbers read
from the database (queue, SLA, outbox backlog) are the same on every replica (take one, or
`max`).
"""

from __future__ import annotations

from cskh.metrics import LATENCY_BUCKETS, WAIT_BUCKETS, Counter, Histogram, render


class HubMetrics:
    """What one hub process counts (see the module docstring)."""

    def __init__(self) -> None:
        self.messages = Counter(
            "cskh_hub_messages_total",
            "Messages handled by this replica, by channel and direction (in: from customers; "
            "out: bot, agent and system messages to customers).",
        )
        self.reply_seconds = Histogram(
            "cskh_hub_reply_seconds",
            "From a customer message arriving to the bot's reply being stored, by channel.",
            LATENCY_BUCKETS,
        )
        self.handoffs = Counter(
            "cskh_hub_handoffs_total", "Conversations queued for a person, by reason.",
        )
        self.queue_wait_seconds = Histogram(
            "cskh_hub_queue_wait_seconds",
            "From queue entry to an agent's claim.",
            WAIT_BUCKETS,
        )
        self.deliveries = Counter(
            "cskh_hub_outbox_deliveries_total",
            "Outbox sends by channel and outcome (sent, retry, failed).",
        )

    def render(self) -> str:
        return render((
            self.messages, self.reply_seconds, self.handoffs, self.queue_wait_seconds,
            self.deliveries,
        ))
