"""The hub's own cost per message: the hub alone, in front of a bot that answers instantly.

Starts the hub (`cskh.stack`, real triage models, SQLite) with `CSKH_HUB_RASA_URL` pointing
at a stub that speaks Rasa's REST contract and answers at once like our FAQ action (text,
"did this help?" buttons, the hub-only cskh_meta payload). What remains is the hub: scoring
(one e5 embedding), storing, the escalation decision, routing. Printed beside one e5
embedding measured in this process, because the target is "the hub's share at most one
embedding + 5 ms". `--ref REV` also runs the hub of git revision REV, alternating, for
before/after numbers in one run.

    .venv/bin/python benchmarks/hub_overhead.py -n 300 --ref 34b1cf8
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from latency_rasa import MESSAGES_MIXED, Result, concurrent, sequential

from cskh.stack import Stack, StackConfig, free_port, git_worktree


class InstantRasa:
    """Rasa's REST webhook as a stub: every message answered at once, FAQ-style."""

    def __init__(self) -> None:
        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as Rasa's Sanic server

            def do_GET(self) -> None:
                self._send(b'"Hello from Rasa: 3.6.21"')

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                sender = body.get("sender", "")
                reply = [
                    {
                        "recipient_id": sender,
                        "text": "Phí giao hàng nội thành 20.000đ.\nhttps://shop.vn/ho-tro/phi",
                    },
                    {
                        "recipient_id": sender,
                        "text": "Câu trả lời này có giúp được bạn không?",
                        "buttons": [
                            {"title": "Có, cảm ơn", "payload": "/feedback_helpful"},
                            {"title": "Chưa giúp được", "payload": "/feedback_not_helpful"},
                        ],
                    },
                    {
                        "recipient_id": sender,
                        "custom": {"cskh_meta": {"kind": "faq_answer", "confident": True,
                                                 "articles": [], "query": body.get("message")}},
                    },
                ]
                self._send(json.dumps(reply).encode())

            def _send(self, data: bytes) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                return None

        self.port = free_port()
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def e5_embedding_ms(n: int = 60) -> float:
    """p50 of one e5 query embedding (the sentiment model's encoder), in this process."""
    from triage.sentiment import load_default_model

    model = load_default_model()
    texts = [m.lower() for m in MESSAGES_MIXED]
    model.encoder(texts[:1])  # warm-up
    times = []
    for i in range(n):
        started = time.perf_counter()
        model.encoder([texts[i % len(texts)]])
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def measure(label: str, args: argparse.Namespace, source: Path | None) -> list[Result]:
    rasa = InstantRasa()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            config = StackConfig.isolated(
                Path(tmp), services=("hub",), rasa_port=rasa.port, hub_source=source
            )
            with Stack(config) as stack:
                url = f"{stack.config.hub_url}/webhooks/rest/webhook"
                results = [
                    sequential(url, label, MESSAGES_MIXED, args.n),
                    concurrent(url, label, MESSAGES_MIXED, args.concurrency,
                               args.per_conversation),
                ]
    finally:
        rasa.close()
    for r in results:
        print(r.line(), flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=300, help="sequential messages")
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--per-conversation", type=int, default=20)
    parser.add_argument("--ref", metavar="REV", help="also the hub of git revision REV")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds with --ref")
    args = parser.parse_args(argv)
    print(f"cpus={os.cpu_count()} load={os.getloadavg()[0]:.1f} n={args.n} "
          f"concurrency={args.concurrency}x{args.per_conversation}", flush=True)
    embed = e5_embedding_ms()
    print(f"one e5 query embedding (sentiment encoder, in-process): p50 {embed:.1f} ms",
          flush=True)
    runs: dict[str, list[list[Result]]] = {"before": [], "after": []}
    if args.ref:
        with git_worktree(args.ref) as tree:
            for _ in range(args.rounds):
                runs["before"].append(measure(f"hub at {args.ref}", args, tree))
                runs["after"].append(measure("hub now", args, None))
    else:
        runs["after"].append(measure("hub now", args, None))
    after_seq = statistics.median(r[0].p50 for r in runs["after"])
    print(f"hub now, sequential p50 {after_seq:.1f} ms = one embedding "
          f"{'+' if after_seq >= embed else '-'} {abs(after_seq - embed):.1f} ms", flush=True)
    if runs["before"]:
        for i, shape in enumerate(("sequential", f"{args.concurrency} concurrent conv.")):
            b = [r[i] for r in runs["before"]]
            a = [r[i] for r in runs["after"]]
            print(
                f"before/after {shape:<22} p50 {statistics.median(x.p50 for x in b):.1f} -> "
                f"{statistics.median(x.p50 for x in a):.1f} ms  p95 "
                f"{statistics.median(x.p95 for x in b):.1f} -> "
                f"{statistics.median(x.p95 for x in a):.1f} ms  throughput "
                f"{statistics.median(x.per_second for x in b):.1f} -> "
                f"{statistics.median(x.per_second for x in a):.1f} msg/s",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
