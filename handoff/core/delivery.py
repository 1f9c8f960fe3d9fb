"""The delivery worker: sends outbox rows through their channels, retrying with backoff.

Every replica may run one; each row is leased to one worker at a time (store/outbox.py).
A row is sent again only when its lease ran out without an answer (the process died in the
middle of a send), so a restart resumes delivery instead of losing or repeating it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from ..channels.base import Channel, DeliveryError, OutboundMessage
from ..metrics import HubMetrics
from ..settings import HubSettings
from ..store import Store, messages, outbox
from ..store.models import FAILED, Conversation, Message
from .background import cancel_and_wait
from .hub import ConsoleNotifier, run_sync
from .views import CustomerMessage, Delivery

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    job: outbox.Job
    delivery: Delivery


class DeliveryWorker:
    def __init__(
        self,
        store: Store,
        channels: Mapping[str, Channel],
        console: ConsoleNotifier,
        settings: HubSettings,
        metrics: HubMetrics | None = None,
    ) -> None:
        self._store = store
        self._metrics = metrics or HubMetrics()
        self._channels = channels
        self._console = console
        self._settings = settings
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        if self._wake is not None:
            self._wake.set()

    def start(self) -> None:
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="outbox-delivery")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            # Cleared before the round, not after: a wake-up that comes while the round runs
            # (a new row committed meanwhile) must start the next round at once.
            self._wake.clear()
            try:
                sent = await self.drain_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # a database hiccup must not end delivery for good
                log.exception("outbox delivery round failed")
                sent = 0
            if sent:
                continue  # there may be more due right away
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for returns an inner wait that
            # finished as the task was cancelled and swallows the cancel, so stop() would hang.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._settings.outbox_poll_seconds):
                    await self._wake.wait()

    async def drain_once(self) -> int:
        """Send what is due now (one lease round); returns how many rows were attempted."""
        jobs = await run_sync(self._take)
        if not jobs:
            return 0
        by_conversation: dict[str, list[tuple[outbox.Job, OutboundMessage]]] = {}
        for job, message in jobs:
            by_conversation.setdefault(job.conversation_id, []).append((job, message))
        await asyncio.gather(*(self._send_in_order(batch) for batch in by_conversation.values()))
        return len(jobs)

    def _take(self) -> list[tuple[outbox.Job, OutboundMessage]]:
        with self._store.write() as s:
            jobs = outbox.take_due(
                s, self._settings.outbox_batch_size, self._settings.outbox_lease_seconds
            )
            if not jobs:
                return []
            rows = {
                m.id: m
                for m in s.query(Message).filter(Message.id.in_([j.message_id for j in jobs]))
            }
            last_seen = dict(
                s.query(Conversation.id, Conversation.last_customer_at)
                .filter(Conversation.id.in_({j.conversation_id for j in jobs}))
                .all()
            )
            return [
                (
                    j,
                    OutboundMessage(
                        j.recipient_id,
                        _customer(rows[j.message_id]),
                        last_customer_at=last_seen.get(j.conversation_id),
                    ),
                )
                for j in jobs
            ]

    async def _send_in_order(self, batch: list[tuple[outbox.Job, OutboundMessage]]) -> None:
        """One conversation's messages, in order: after a failure the rest wait their turn."""
        for i, (job, message) in enumerate(batch):
            try:
                outcome = await self._send(job, message)
            except asyncio.CancelledError:
                # Shutting down: rows not tried yet go back now rather than when their lease
                # runs out (the one in flight may have been sent: its lease decides).
                untried = [j.id for j, _ in batch[i + 1 :]]
                if untried:
                    self._release(untried)
                raise
            await self._console.to_console(
                "delivery",
                {
                    "conversation_id": job.conversation_id,
                    "message_id": job.message_id,
                    "delivery": outcome.delivery.model_dump(),
                },
            )
            if outcome.delivery.status == "pending":
                # Retried later: the rest of this conversation waits behind it.
                rest = [j.id for j, _ in batch[i + 1 :]]
                if rest:
                    await run_sync(self._release, rest)
                return

    async def _send(self, job: outbox.Job, message: OutboundMessage) -> Outcome:
        channel = self._channels.get(job.channel)
        try:
            if channel is None:
                raise DeliveryError(f"channel {job.channel!r} is not configured", permanent=True)
            await asyncio.wait_for(
                channel.deliver(message), self._settings.outbox_send_timeout_seconds
            )
        except DeliveryError as exc:
            return await run_sync(self._failed, job, exc.reason, exc.permanent)
        except TimeoutError:
            return await run_sync(self._failed, job, "timed out", False)
        except Exception as exc:  # a bug or an unexpected library error: retry, visibly
            log.warning("delivery of message %s failed", job.message_id, exc_info=True)
            return await run_sync(self._failed, job, f"{type(exc).__name__}: {exc}", False)
        return await run_sync(self._sent, job)

    def _sent(self, job: outbox.Job) -> Outcome:
        with self._store.write() as s:
            outbox.mark_sent(s, job.id)
        self._metrics.deliveries.inc(channel=job.channel, outcome="sent")
        return Outcome(job, Delivery(status="sent", attempts=job.attempts))

    def _failed(self, job: outbox.Job, reason: str, permanent: bool) -> Outcome:
        settings = self._settings
        with self._store.write() as s:
            if permanent or job.attempts >= settings.outbox_max_attempts:
                outbox.mark_failed(s, job.id, reason)
                self._metrics.deliveries.inc(channel=job.channel, outcome="failed")
                return Outcome(job, Delivery(status=FAILED, attempts=job.attempts, error=reason))
            delay = min(
                settings.outbox_backoff_seconds * 2 ** (job.attempts - 1),
                settings.outbox_backoff_max_seconds,
            )
            outbox.mark_retry(s, job.id, reason, delay)
        self._metrics.deliveries.inc(channel=job.channel, outcome="retry")
        log.info("delivery of message %s retried in %.0fs: %s", job.message_id, delay, reason)
        return Outcome(job, Delivery(status="pending", attempts=job.attempts, error=reason))

    def _release(self, job_ids: list[int]) -> None:
        with self._store.write() as s:
            outbox.release(s, job_ids)


def _customer(row: Message) -> CustomerMessage:
    return messages.view(row).for_customer()
