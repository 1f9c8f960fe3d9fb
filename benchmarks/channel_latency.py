"""Webhook-to-send latency of the Messenger and Zalo channels on the real stack.

Starts fake Graph and Zalo servers (tests/fakes: the platforms' documented payloads) and the
whole assistant (`cskh.stack`: hub, Rasa, action server) with both channels pointed at them,
then, one at a time, posts a signed help-center question to each webhook and measures from
the POST to the moment the fake platform receives the bot's first answer for that customer
(store, sentiment, Rasa, FAQ search, outbox, Send API call). Also the webhook's own answer
time (Meta and Zalo want it within seconds).

    .venv/bin/python benchmarks/channel_latency.py -n 40
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx

from cskh.paths import REPO_ROOT
from cskh.stack import Stack, StackConfig

sys.path.insert(0, str(REPO_ROOT))  # the platform fakes live with the tests
from tests.fakes.graph import FakeGraph, GraphRequest
from tests.fakes.zalo import FakeZalo, settings_env, signed, text_event

APP_SECRET = "bench-app-secret"
QUESTIONS = [
    "phí ship ra Hà Nội bao nhiêu?",
    "làm sao để đổi trả hàng",
    "quen mat khau thi lam sao",
    "tra gop dc ko",
    "bao lâu thì nhận được hàng",
    "có được kiểm tra hàng trước khi nhận không",
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1) + 0.5))]


def wait_until(check: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("no answer reached the fake platform")
        time.sleep(0.002)


def answered_to(psid: str) -> Callable[[GraphRequest], bool]:
    return lambda q: q.ok and q.recipient_id == psid


def has_texts(zalo: FakeZalo, user: str) -> Callable[[], bool]:
    return lambda: bool(zalo.texts_to(user))


def messenger_body(psid: str, text: str) -> bytes:
    now = int(time.time() * 1000)
    event = {
        "object": "page",
        "entry": [{"id": "PAGE", "time": now, "messaging": [{
            "sender": {"id": psid}, "recipient": {"id": "PAGE"}, "timestamp": now,
            "message": {"mid": f"m_{uuid.uuid4().hex}", "text": text},
        }]}],
    }
    return json.dumps(event, ensure_ascii=False).encode()


def run(n: int) -> int:
    graph = FakeGraph(page_token="bench-page-token").start()
    zalo = FakeZalo().start()
    env = {
        "CSKH_HUB_MESSENGER_APP_SECRET": APP_SECRET,
        "CSKH_HUB_MESSENGER_VERIFY_TOKEN": "bench-verify",
        "CSKH_HUB_MESSENGER_PAGE_ACCESS_TOKEN": "bench-page-token",
        "CSKH_HUB_MESSENGER_GRAPH_URL": graph.url,
        **settings_env(zalo),
    }
    try:
        with tempfile.TemporaryDirectory() as tmp, Stack(
            StackConfig.isolated(Path(tmp), extra_env=env)
        ) as stack, httpx.Client(base_url=stack.config.hub_url, timeout=30) as http:
            results: dict[str, tuple[list[float], list[float]]] = {
                "messenger": ([], []), "zalo": ([], [])
            }
            for i in range(n + 2):  # the first two warm both paths up, not counted
                question = QUESTIONS[i % len(QUESTIONS)]
                psid = f"{7 * 10**15 + i}"
                raw = messenger_body(psid, question)
                mac = hmac.new(APP_SECRET.encode(), raw, hashlib.sha256).hexdigest()
                started = time.perf_counter()
                r = http.post("/webhooks/messenger", content=raw, headers={
                    "Content-Type": "application/json", "X-Hub-Signature-256": f"sha256={mac}"})
                acked = time.perf_counter()
                assert r.status_code == 200, r.text
                graph.wait_for(1, timeout=60, where=answered_to(psid))
                sent = time.perf_counter()
                if i >= 2:
                    results["messenger"][0].append((acked - started) * 1000)
                    results["messenger"][1].append((sent - started) * 1000)

                user = f"{8 * 10**15 + i}"
                raw, headers = signed(text_event(user, question))
                started = time.perf_counter()
                r = http.post("/webhooks/zalo", content=raw, headers=headers)
                acked = time.perf_counter()
                assert r.status_code == 200, r.text
                wait_until(has_texts(zalo, user))
                sent = time.perf_counter()
                if i >= 2:
                    results["zalo"][0].append((acked - started) * 1000)
                    results["zalo"][1].append((sent - started) * 1000)
    finally:
        graph.stop()
        zalo.stop()
    for channel, (acks, sends) in results.items():
        print(
            f"{channel:<10} webhook answered p50 {statistics.median(acks):6.1f} ms  "
            f"p95 {percentile(acks, 0.95):6.1f} ms   webhook -> first send p50 "
            f"{statistics.median(sends):6.1f} ms  p95 {percentile(sends, 0.95):6.1f} ms  (n={n})",
            flush=True,
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=40, help="questions per channel")
    args = parser.parse_args(argv)
    print(f"cpus={os.cpu_count()} load={os.getloadavg()[0]:.1f} n={args.n}", flush=True)
    return run(args.n)


if __name__ == "__main__":
    sys.exit(main())
