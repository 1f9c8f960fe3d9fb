"""Time from starting the installed assistant (what `make run` does once set up) to the first
answered question through the hub.

    .venv/bin/python benchmarks/first_answer.py [--runs 2]

Uses its own ports and a throw-away database and tracker store, so a running `make run` is
left alone.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cskh.stack import Stack, StackConfig

QUESTION = "phi ship ra ha noi bao nhieu"


def ask(url: str, sender: str, text: str) -> list[dict[str, object]]:
    body = json.dumps({"sender": sender, "message": text}).encode()
    request = urllib.request.Request(
        f"{url}/webhooks/rest/webhook", body, {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return list(json.loads(response.read()))


def one_run() -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp)
        config = StackConfig.isolated(run_dir)
        stack = Stack(config)
        started = time.perf_counter()
        try:
            ready = stack.start(timeout=300)
            replies = ask(config.hub_url, "bench-first-answer", QUESTION)
            answered = time.perf_counter() - started
        finally:
            stack.stop()
    if not any("phi-van-chuyen" in json.dumps(r, ensure_ascii=False) for r in replies):
        print(f"warning: unexpected first answer: {replies}", file=sys.stderr)
    return ready, answered


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    readies, answers = [], []
    for i in range(args.runs):
        ready, answered = one_run()
        readies.append(ready)
        answers.append(answered)
        print(f"run {i + 1}: all services ready {ready:.1f} s, first answer {answered:.1f} s")
    print(
        f"start -> ready median {statistics.median(readies):.1f} s; "
        f"start -> first answer median {statistics.median(answers):.1f} s ({args.runs} runs)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
