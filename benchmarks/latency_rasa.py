"""End-to-end latency of the bot: webhook -> Rasa -> action server -> reply.

Measures p50/p95 and messages/s for N sequential messages and for C concurrent
conversations, for:
  - `--url URL` (e.g. the hub, http://127.0.0.1:8000/webhooks/rest/webhook), if given;
  - our bot (bot/serve.py, patched) + action server, started here on free ports;
  - with `--unpatched`: the same model started with `CSKH_RASA_PATCHES=none`;
  - with `--stock`: a stock Rasa 3.6 `rasa init`-style bot (benchmarks/stock_bot/, trained into
    var/models/rasa/stock.tar.gz if missing) started with plain `rasa run`; then the ratio.
It also times the action server alone (direct POST /webhook) so Rasa's own per-action cost
shows. Services are started with `cskh.stack`; bounded loops; localhost only.

    .venv/bin/python benchmarks/latency_rasa.py --model var/models/rasa/cskh.tar.gz \
        --unpatched --stock -n 200 --concurrency 10
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from cskh.paths import DEFAULT_INDEX_DIR
from cskh.stack import (
    RASA_MODEL,
    STOCK_BOT,
    Stack,
    StackConfig,
    git_worktree,
    http_json,
    train,
)

# A realistic mix: most turns are help-center questions (custom action), some order lookups
# (custom action), some small talk (response only).
MESSAGES_MIXED = [
    "phí ship bao nhiêu",
    "xin chào shop",
    "làm sao để đổi trả hàng",
    "kiểm tra đơn DH100003 giúp mình",
    "co thanh toan khi nhan hang khong",
    "cảm ơn shop",
    "giao hàng mất bao lâu",
    "quen mat khau thi lam sao",
]
MESSAGES_FAQ = ["phí ship bao nhiêu", "làm sao để đổi trả hàng", "giao hang mat bao lau"]
MESSAGES_STOCK = ["hello", "hi", "hey there"]
TURNS_PER_CONVERSATION = 10


@dataclass
class Result:
    label: str
    p50: float
    p95: float
    per_second: float
    n: int
    errors: int

    def line(self) -> str:
        return (f"{self.label:<44} p50 {self.p50:7.1f} ms  p95 {self.p95:7.1f} ms  "
                f"{self.per_second:6.1f} msg/s  (n={self.n}, errors={self.errors})")


def _percentile(sorted_values: Sequence[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(q * (len(sorted_values) - 1) + 0.5))]


def _send(url: str, sender: str, text: str) -> float:
    started = time.perf_counter()
    status, body = http_json(url, {"sender": sender, "message": text}, timeout=60)
    if status != 200 or not isinstance(body, list) or not body:
        raise RuntimeError(f"bad reply {status}: {body!r}")
    return (time.perf_counter() - started) * 1000


def sequential(url: str, label: str, messages: Sequence[str], n: int) -> Result:
    latencies: list[float] = []
    errors = 0
    run = uuid.uuid4().hex[:8]
    _send(url, f"warm-{run}", messages[0])  # first call pays lazy initialisation
    started = time.perf_counter()
    for i in range(n):
        sender = f"seq-{run}-{i // TURNS_PER_CONVERSATION}"
        try:
            latencies.append(_send(url, sender, messages[i % len(messages)]))
        except Exception:
            errors += 1
    elapsed = time.perf_counter() - started
    latencies.sort()
    return Result(f"{label} sequential", statistics.median(latencies),
                  _percentile(latencies, 0.95), len(latencies) / elapsed, len(latencies), errors)


def concurrent(
    url: str, label: str, messages: Sequence[str], conversations: int, per_conversation: int,
    same_conversation: bool = False,
) -> Result:
    """C threads x M messages; each thread its own conversation, or all in one (a burst)."""
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    run = uuid.uuid4().hex[:8]

    def worker(k: int) -> None:
        for i in range(per_conversation):
            try:
                sender = f"conc-{run}" if same_conversation else f"conc-{run}-{k}"
                ms = _send(url, sender, messages[(i + k) % len(messages)])
                with lock:
                    latencies.append(ms)
            except Exception:
                with lock:
                    errors[0] += 1

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(conversations)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    elapsed = time.perf_counter() - started
    latencies.sort()
    shape = f"{conversations} clients, 1 conv." if same_conversation else (
        f"{conversations} concurrent conv.")
    return Result(f"{label} {shape}", statistics.median(latencies),
                  _percentile(latencies, 0.95), len(latencies) / elapsed, len(latencies),
                  errors[0])


def action_server_direct(action_url: str, n: int) -> Result:
    """POST /webhook to the action server alone, with a small tracker (no Rasa involved)."""
    latencies: list[float] = []
    for i in range(n):
        text = MESSAGES_FAQ[i % len(MESSAGES_FAQ)]
        body = {
            "next_action": "action_answer_faq", "sender_id": "direct", "version": "3.6.21",
            "domain": {},
            "tracker": {"sender_id": "direct", "slots": {}, "events": [], "active_loop": {},
                        "latest_message": {"text": text, "intent": {"name": "ask_faq"},
                                           "entities": []}},
        }
        started = time.perf_counter()
        status, _ = http_json(f"{action_url}/webhook", body)
        latencies.append((time.perf_counter() - started) * 1000)
        assert status == 200, status
    latencies.sort()
    return Result("action server alone (FAQ, direct)", statistics.median(latencies),
                  _percentile(latencies, 0.95), 0.0, n, 0)


def measure(
    url: str, label: str, messages: Sequence[str], args: argparse.Namespace
) -> list[Result]:
    results = [
        sequential(url, label, messages, args.n),
        concurrent(url, label, messages, args.concurrency, args.per_conversation),
    ]
    if args.same_conversation:
        results.append(concurrent(url, label, messages, args.concurrency,
                                  args.per_conversation, same_conversation=True))
    for r in results:
        print(r.line(), flush=True)
    return results


def ensure_stock_model() -> None:
    if not STOCK_BOT.model.exists():
        print("training the stock reference bot (DIET/TED, a few minutes) ...", flush=True)
        seconds = train(STOCK_BOT)
        print(f"  trained in {seconds:.0f} s")


def measure_hub(
    messages: Sequence[str],
    args: argparse.Namespace,
    *,
    share_vector: bool = True,
    source: Path | None = None,
    label: str | None = None,
) -> list[Result]:
    """The full path a customer takes: hub (store, sentiment, escalation) -> Rasa -> action.

    `share_vector=False` starts the hub with CSKH_HUB_SHARE_QUERY_VECTOR=false, so the action
    server embeds every question itself: what passing the hub's vector saves. `source` runs
    the hub from another checkout (`--hub-ref`)."""
    label = label or ("ours via hub" if share_vector else "ours via hub, unshared")
    env = {"CSKH_ACTIONS_INDEX_DIR": str(args.index_dir)} if args.index_dir else {}
    if not share_vector:
        env["CSKH_HUB_SHARE_QUERY_VECTOR"] = "false"
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp)
        config = StackConfig.isolated(run_dir, extra_env=env, hub_source=source)
        stack = Stack(config)
        ready = stack.start(timeout=300)
        try:
            print(f"{label}: all services ready after {ready:.1f} s", flush=True)
            results = measure(f"{config.hub_url}/webhooks/rest/webhook", label, messages, args)
        finally:
            stack.stop()
        # A queued conversation is answered by the hub without Rasa, which would flatter the
        # numbers: say how many conversations the escalation decision took out of bot mode.
        with sqlite3.connect(run_dir / "hub.db") as db:
            states = dict(db.execute("SELECT state, count(*) FROM conversations GROUP BY state"))
        print(f"{label}: conversation states after the run {states}", flush=True)
    return results


def compare_hub_ref(messages: Sequence[str], args: argparse.Namespace) -> None:
    """Hub at REV and this hub, twice each, alternating (this machine drifts): before/after."""
    with git_worktree(args.hub_ref) as tree:
        runs: dict[str, list[list[Result]]] = {"before": [], "after": []}
        for _ in range(2):
            runs["before"].append(
                measure_hub(messages, args, source=tree, label=f"hub at {args.hub_ref}")
            )
            runs["after"].append(measure_hub(messages, args, label="hub now"))
    for before, after in zip(*(zip(*runs[k], strict=True) for k in ("before", "after")),
                             strict=True):
        b_p50 = statistics.median(r.p50 for r in before)
        a_p50 = statistics.median(r.p50 for r in after)
        b_tput = statistics.median(r.per_second for r in before)
        a_tput = statistics.median(r.per_second for r in after)
        shape = after[0].label.removeprefix("hub now ")
        print(f"before/after {shape:<28} p50 {b_p50:.1f} -> "
              f"{a_p50:.1f} ms  throughput {b_tput:.1f} -> {a_tput:.1f} msg/s", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="also measure this REST webhook (e.g. the hub)")
    parser.add_argument(
        "--hub", action="store_true",
        help="also start the whole assistant (cskh.stack: hub + Rasa + actions) and measure "
             "hub -> Rasa -> action -> reply; the ratio to stock then uses these numbers",
    )
    parser.add_argument("--model", type=Path, default=RASA_MODEL)
    parser.add_argument("--index-dir", type=Path, help="CSKH_ACTIONS_INDEX_DIR for the actions")
    parser.add_argument("-n", type=int, default=200, help="sequential messages")
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--per-conversation", type=int, default=20)
    parser.add_argument("--faq-only", action="store_true", help="only FAQ messages (1 action each)")
    parser.add_argument(
        "--unpatched", action="store_true", help="also without the bot/serve.py patches"
    )
    parser.add_argument("--stock", action="store_true", help="also the stock Rasa 3.6 bot, ratio")
    parser.add_argument("--no-ours", action="store_true", help="do not start our bot")
    parser.add_argument("--hub-unshared", type=int, default=0, metavar="N",
                        help="N more hub runs without the shared query vector, each followed "
                        "by one with it (A/B of cskh/query_vector.py)")
    parser.add_argument("--hub-ref", metavar="REV",
                        help="also run the hub of git revision REV (a temporary worktree; "
                        "Rasa and actions stay this checkout's), alternating with this one, "
                        "and print before/after ratios")
    parser.add_argument("--same-conversation", action="store_true",
                        help="also C clients writing into ONE conversation (lock store)")
    parser.add_argument("--tracker-store", choices=("sqlite", "memory"), default="sqlite")
    parser.add_argument(
        "--patch-sets", default="",
        help="extra runs of our bot with CSKH_RASA_PATCHES set to each of these "
             "';'-separated values, e.g. 'none;jsonschema;session;domain;lock'",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.n <= 10_000 or not 1 <= args.concurrency <= 100:
        parser.error("-n must be 1..10000 and --concurrency 1..100")

    messages = MESSAGES_FAQ if args.faq_only else MESSAGES_MIXED
    print(f"cpus={os.cpu_count()} load={os.getloadavg()[0]:.1f} n={args.n} concurrency="
          f"{args.concurrency}x{args.per_conversation} messages="
          f"{'faq' if args.faq_only else 'mixed'} tracker_store={args.tracker_store}", flush=True)
    ours: list[Result] = []
    if args.url:
        measure(args.url, "given URL", messages, args)
    if not args.no_ours:
        variants: list[tuple[str, bool, str]] = [("ours (patched)", True, "all")]
        if args.unpatched:
            variants.append(("ours (unpatched)", False, "none"))
        for patch_set in filter(None, args.patch_sets.split(";")):
            variants.append((f"ours (patches={patch_set})", False, patch_set))
        for label, patched, patch_set in variants:
            with tempfile.TemporaryDirectory(prefix="cskh-rasa-") as tmp, Stack(
                StackConfig.rasa_only(
                    Path(tmp), rasa_model=args.model,
                    index_dir=args.index_dir or DEFAULT_INDEX_DIR,
                    extra_env={"CSKH_RASA_PATCHES": patch_set},
                    tracker_store=args.tracker_store,
                )
            ) as stack:
                print(f"{label}: rasa ready after {stack.service('rasa').ready_after:.1f} s, "
                      f"actions after {stack.service('actions').ready_after:.1f} s", flush=True)
                if patched:
                    print(action_server_direct(stack.config.actions_url, 50).line(), flush=True)
                results = measure(stack.rasa_webhook, label, messages, args)
                if patched:
                    ours = results
    if args.hub_ref:
        compare_hub_ref(messages, args)
    if args.hub:
        ours = measure_hub(messages, args)
    if args.hub_unshared:
        # Alternating with the shared runs evens out this machine's drift.
        for _ in range(args.hub_unshared):
            measure_hub(messages, args, share_vector=False)
            measure_hub(messages, args)
    if args.stock:
        ensure_stock_model()
        with tempfile.TemporaryDirectory(prefix="cskh-rasa-") as tmp, Stack(
            StackConfig.stock(Path(tmp), tracker_store=args.tracker_store)
        ) as stack:
            print(f"stock: rasa ready after {stack.service('rasa').ready_after:.1f} s",
                  flush=True)
            stock = measure(stack.rasa_webhook, "stock rasa init bot", MESSAGES_STOCK,
                            args)
        if ours:
            for mine, ref in zip(ours, stock, strict=False):
                print(f"ratio ours/stock {mine.label.split(' ', 2)[-1]:<28} "
                      f"p50 {mine.p50 / ref.p50:.2f}x  p95 {mine.p95 / ref.p95:.2f}x  "
                      f"throughput {mine.per_second / ref.per_second:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
