"""A small async micro-batcher: concurrent callers share one call of a batch function.

    batcher = MicroBatcher(triage.analyse_many, max_batch=16)
    sentiment, vector = await batcher.submit(text)

`fn(list[T]) -> list[R]` is a blocking function (a model call) that is much cheaper per item
on a batch. It runs in a worker thread (`anyio.to_thread.run_sync`), one batch at a time.
With the default `max_wait_seconds=0` nothing is delayed on purpose: a submit that finds the
batcher idle starts its batch of one at once; submits that arrive while a batch is being
computed queue up and form the next batch (at most `max_batch` items) as soon as it ends.
So a lone message pays nothing extra, and under load the batch size follows the load.

There is no background task: the first waiter of each batch runs it ("leader"), and hands the
leader role to the head of the queue when it is done. Hence no start-up call is needed and
the batcher may be created outside the event loop; `submit` must be called from the one
event loop that uses it (it is not thread-safe).

- Results go to the callers in order: `fn` must return one result per item, in order
  (otherwise every caller of that batch gets a `ValueError`).
- An exception raised by `fn` is raised to every caller of that batch (the same exception
  object), and to no other caller.
- A cancelled caller only loses its own result: a queued item is dropped; an item already in
  a running batch is computed and its result discarded. The leader's batch runs in a
  shielded scope, so anyio cancellation of the leader waits for the batch (and its delivery
  to the other callers). Native asyncio cancellation (`task.cancel()`) cannot be shielded:
  then the leader's batchmates are queued again and computed by the next batch; a lock keeps
  `fn` itself to one call at a time even then.
- `aclose()` refuses new items (`BatcherClosed`) and waits until the items already submitted
  are done.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Sequence
from enum import Enum
from typing import Generic, TypeVar, cast

import anyio
import anyio.to_thread

T = TypeVar("T")
R = TypeVar("R")

__all__ = ["BatcherClosed", "MicroBatcher"]


class BatcherClosed(RuntimeError):
    """`submit` after `aclose()`."""


class _State(Enum):
    QUEUED = "queued"  # waiting in the queue
    LEAD = "lead"  # head of the queue, told to run the next batch
    RUNNING = "running"  # in the batch being computed
    DONE = "done"  # result or error delivered
    CANCELLED = "cancelled"  # its caller went away


class _Slot(Generic[T, R]):
    __slots__ = ("error", "event", "item", "state", "value")

    def __init__(self, item: T) -> None:
        self.item = item
        self.state = _State.QUEUED
        self.event = anyio.Event()  # set when the slot becomes LEAD or DONE
        self.value: R | None = None
        self.error: BaseException | None = None


class MicroBatcher(Generic[T, R]):
    """Collects concurrent `submit(item)` calls into calls of `fn(items)`."""

    def __init__(
        self,
        fn: Callable[[list[T]], Sequence[R]],
        *,
        max_batch: int = 16,
        max_wait_seconds: float = 0.0,
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch}")
        if max_wait_seconds < 0:
            raise ValueError(f"max_wait_seconds must be >= 0, got {max_wait_seconds}")
        self.fn = fn
        self.max_batch = max_batch
        self.max_wait_seconds = max_wait_seconds
        self._queue: deque[_Slot[T, R]] = deque()
        self._busy = False  # a leader exists (waiting, collecting or running its batch)
        self._closed = False
        self._idle: anyio.Event | None = None  # created by aclose() while busy
        self._filled: anyio.Event | None = None  # set when the queue reaches max_batch
        self._fn_lock = threading.Lock()

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def pending(self) -> int:
        """Items queued for a later batch (not counting the one being computed)."""
        return len(self._queue)

    async def submit(self, item: T) -> R:
        """`fn([..., item, ...])`'s result for `item`; raises what `fn` raised for its batch."""
        if self._closed:
            raise BatcherClosed("the batcher is closed")
        slot: _Slot[T, R] = _Slot(item)
        self._queue.append(slot)
        if not self._busy:
            self._busy = True
            slot.state = _State.LEAD  # the queue was empty: this slot is its head
        elif self._filled is not None and len(self._queue) >= self.max_batch:
            self._filled.set()
        try:
            if slot.state is _State.QUEUED:
                await slot.event.wait()
            if slot.state is _State.LEAD:
                await self._lead(slot)
        except BaseException:
            self._forget(slot)
            raise
        if slot.error is not None:
            raise slot.error
        return cast(R, slot.value)

    async def aclose(self) -> None:
        """Refuse new items; return when every item already submitted is done."""
        self._closed = True
        if self._busy:
            if self._idle is None:
                self._idle = anyio.Event()
            await self._idle.wait()

    async def __aenter__(self) -> MicroBatcher[T, R]:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # ----------------------------------------------------------------------------------------

    async def _lead(self, slot: _Slot[T, R]) -> None:
        """Run one batch headed by `slot`, deliver its results, pass the lead on."""
        if self.max_wait_seconds > 0 and len(self._queue) < self.max_batch:
            self._filled = anyio.Event()
            try:
                with anyio.move_on_after(self.max_wait_seconds):
                    await self._filled.wait()
            finally:
                self._filled = None
        batch = [self._queue.popleft() for _ in range(min(self.max_batch, len(self._queue)))]
        assert batch and batch[0] is slot, "the leader heads its batch"
        for s in batch:
            s.state = _State.RUNNING
        try:
            # Shielded: anyio cancellation of the leader waits for the batch, so the other
            # callers of the batch still get their results.
            with anyio.CancelScope(shield=True):
                ok, outcome = await anyio.to_thread.run_sync(
                    self._call, [s.item for s in batch]
                )
        except BaseException:
            # Native asyncio cancellation gets through the shield and the batch's result is
            # lost: the other live items go back to the head of the queue for the next leader.
            slot.state = _State.CANCELLED
            for s in reversed(batch[1:]):
                if s.state is _State.RUNNING:
                    s.state = _State.QUEUED
                    self._queue.appendleft(s)
            self._hand_off()
            raise
        if ok:
            values = cast(list[R], outcome)
            for s, value in zip(batch, values, strict=True):
                s.value = value
        else:
            error = cast(BaseException, outcome)
            for s in batch:
                s.error = error
        for s in batch:
            if s.state is _State.RUNNING:
                s.state = _State.DONE
                s.event.set()
        self._hand_off()

    def _call(self, items: list[T]) -> tuple[bool, list[R] | BaseException]:
        """In the worker thread: (True, results) or (False, the exception)."""
        try:
            with self._fn_lock:
                results = list(self.fn(items))
        except Exception as exc:
            return False, exc
        if len(results) != len(items):
            return False, ValueError(
                f"batch function returned {len(results)} results for {len(items)} items"
            )
        return True, results

    def _forget(self, slot: _Slot[T, R]) -> None:
        """The caller of `slot` is gone (cancelled): drop its item, pass the lead on."""
        state = slot.state
        if state is _State.QUEUED or state is _State.LEAD:
            self._queue.remove(slot)
            slot.state = _State.CANCELLED
            if state is _State.LEAD:
                self._hand_off()
        elif state is _State.RUNNING:
            slot.state = _State.CANCELLED  # computed; the result is discarded

    def _hand_off(self) -> None:
        """The head of the queue leads the next batch; an empty queue means idle."""
        if self._queue:
            head = self._queue[0]
            head.state = _State.LEAD
            head.event.set()
            return
        self._busy = False
        if self._idle is not None:
            self._idle.set()
            self._idle = None
