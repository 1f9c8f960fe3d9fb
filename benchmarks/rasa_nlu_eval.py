"""Compare Rasa NLU/policy configurations on this machine: training time, start-up to ready,
`/model/parse` p50 and intent accuracy on the held-out set tests/data/nlu_test.yml
(with / without diacritics). Stdlib only; run with either venv:

    .venv/bin/python benchmarks/rasa_nlu_eval.py --config bot/config.yml \
        --config benchmarks/configs/diet_ted.yml [--retrain] [--threshold-sweep]

Models go to var/models/rasa/cand-<config stem>.tar.gz (reused unless --retrain). Rasa is
started by `cskh.stack`, the launcher of `make run`, without the hub and the action server.

`--help-center` also parses the questions of the retrieval evaluation
(knowledge_base/eval/*.jsonl, written for the search, never NLU training data) and prints the
share that reaches the help-center search (`action_answer_faq`: ask_faq, product_question and
nlu_fallback) and where the others went: a new intent must not take them.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
import unicodedata
from pathlib import Path
from typing import Any

# .venv-rasa does not have the project installed.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from cskh.jsonl import read_jsonl
from cskh.paths import REPO_ROOT
from cskh.stack import RASA_MODEL_DIR, BotFiles, Stack, StackConfig, http_json, train

TEST_FILE = REPO_ROOT / "tests" / "data" / "nlu_test.yml"
HELP_CENTER_QUESTIONS = sorted((REPO_ROOT / "knowledge_base" / "eval").glob("*.jsonl"))
# Intents nlu_data/rules.yml sends to action_answer_faq (bot/domain.yml).
ROUTED_TO_SEARCH = frozenset({"ask_faq", "product_question", "nlu_fallback"})
_ANNOTATION = re.compile(r"\[([^\]]+)\]\([^)]+\)")
_MARKS = re.compile("[àáảãạăắằẳẵặâấầẩẫậèéẻẽẹêếềểễệìíỉĩịòóỏõọôốồổỗộơớờởỡợùúủũụưứừửữựỳýỷỹỵđ]")


def load_examples(path: Path) -> list[tuple[str, str]]:
    """(text, intent) pairs from a Rasa NLU YAML file (annotations stripped)."""
    out: list[tuple[str, str]] = []
    intent = None
    for line in path.read_text(encoding="utf-8").splitlines():
        stripped = line.strip()
        if stripped.startswith("- intent:"):
            intent = stripped.split(":", 1)[1].strip()
        elif stripped.startswith(("- regex:", "- synonym:", "- lookup:")):
            intent = None
        elif intent and stripped.startswith("- ") and not stripped.startswith("- intent"):
            out.append((_ANNOTATION.sub(r"\1", stripped[2:].strip()), intent))
    return out


def help_center_questions() -> list[str]:
    """Every question and follow-up of the retrieval evaluation, once each."""
    seen: dict[str, None] = {}
    for path in HELP_CENTER_QUESTIONS:
        for _, row in read_jsonl(path):
            for key in ("question", "previous", "follow_up"):
                if isinstance(row.get(key), str):
                    seen.setdefault(row[key], None)
    return list(seen)


def parse(url: str, text: str, token: str | None) -> dict[str, Any]:
    """Rasa's NLU reading of `text`. The stack starts Rasa with an auth token (its HTTP API
    is not open to anyone)."""
    query = f"?token={token}" if token else ""
    status, body = http_json(f"{url}/model/parse{query}", {"text": text})
    assert status == 200 and isinstance(body, dict), (status, body)
    return body


def routing(url: str, questions: list[str], token: str | None) -> None:
    went: dict[str, int] = {}
    for text in questions:
        intent = parse(url, text, token)["intent"]["name"]
        went[intent] = went.get(intent, 0) + 1
    searched = sum(n for i, n in went.items() if i in ROUTED_TO_SEARCH)
    others = ", ".join(f"{i} {n}" for i, n in sorted(went.items(), key=lambda x: -x[1])
                       if i not in ROUTED_TO_SEARCH)
    print(f"  help-center questions reaching the search: {searched / len(questions):.1%} "
          f"({searched}/{len(questions)}); by intent: "
          + ", ".join(f"{i} {went[i]}" for i in sorted(ROUTED_TO_SEARCH) if i in went))
    print(f"    elsewhere: {others or '-'}")
    from actions.products import asks_about_a_product  # pure Python: cskh.text, triage.facts

    fired = [q for q in questions if asks_about_a_product(q)]
    print(f"  of them, read as a question about one product (actions/products.py): "
          f"{len(fired)}{': ' + '; '.join(fired[:5]) if fired else ''}")


def has_marks(text: str) -> bool:
    return bool(_MARKS.search(unicodedata.normalize("NFC", text).lower()))


def evaluate(
    url: str, examples: list[tuple[str, str]], token: str | None = None
) -> dict[str, object]:
    latencies: list[float] = []
    rows: list[tuple[str, str, str, float, bool]] = []
    for text, gold in examples:
        started = time.perf_counter()
        body = parse(url, text, token)
        latencies.append((time.perf_counter() - started) * 1000)
        ranking = body.get("intent_ranking") or []
        # The classifier's own top intent (before FallbackClassifier) and its confidence.
        top = next((r for r in ranking if r["name"] != "nlu_fallback"), body["intent"])
        predicted = body["intent"]["name"]
        rows.append((text, gold, top["name"], float(top["confidence"]), predicted == gold))
    latencies.sort()

    def acc(subset: list[tuple[str, str, str, float, bool]]) -> str:
        if not subset:
            return "-"
        raw = sum(r[1] == r[2] for r in subset) / len(subset)
        final = sum(r[4] for r in subset) / len(subset)
        return f"{raw:.1%} (after fallback {final:.1%}, n={len(subset)})"

    with_marks = [r for r in rows if has_marks(r[0])]
    without = [r for r in rows if not has_marks(r[0])]
    return {
        "parse_p50_ms": statistics.median(latencies),
        "parse_p95_ms": latencies[int(0.95 * (len(latencies) - 1))],
        "accuracy_all": acc(rows),
        "accuracy_with_diacritics": acc(with_marks),
        "accuracy_without_diacritics": acc(without),
        "errors": [(t, g, p, round(c, 2)) for t, g, p, c, _ in rows if g != p],
        "rows": rows,
    }


def sweep(rows: list[tuple[str, str, str, float, bool]]) -> None:
    """Accuracy of answered turns vs share sent to fallback, per FallbackClassifier threshold."""
    print("  threshold  fallback%  accuracy-of-answered  wrong-answers")
    for threshold in (0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5):
        answered = [r for r in rows if r[3] >= threshold]
        wrong = sum(r[1] != r[2] for r in answered)
        share = 1 - len(answered) / len(rows)
        acc = (len(answered) - wrong) / len(answered) if answered else 0.0
        print(f"  {threshold:9.2f}  {share:9.1%}  {acc:20.1%}  {wrong:13d}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", action="append", type=Path, required=True)
    parser.add_argument("--test", type=Path, default=TEST_FILE)
    parser.add_argument("--retrain", action="store_true")
    parser.add_argument("--threshold-sweep", action="store_true")
    parser.add_argument("--show-errors", action="store_true")
    parser.add_argument("--help-center", action="store_true",
                        help="also: where the retrieval evaluation's questions are routed")
    args = parser.parse_args(argv)

    examples = load_examples(args.test)
    train_texts = {t for t, _ in load_examples(REPO_ROOT / "nlu_data" / "nlu.yml")}
    leaked = [t for t, _ in examples if t in train_texts]
    if leaked:
        print(f"WARNING: {len(leaked)} test utterances are in the training data: {leaked[:5]}")
    print(f"held-out utterances: {len(examples)} ({sum(has_marks(t) for t, _ in examples)} "
          "with diacritics)")

    for config in args.config:
        bot = BotFiles(config=config, model=RASA_MODEL_DIR / f"cand-{config.stem}.tar.gz")
        if args.retrain or not bot.model.exists():
            seconds = train(bot)
            print(f"\n== {config}: trained in {seconds:.1f} s")
        else:
            print(f"\n== {config}: reusing {bot.model.name} (--retrain to time training)")
        with tempfile.TemporaryDirectory(prefix="cskh-nlu-") as tmp, Stack(
            StackConfig.isolated(Path(tmp), services=("rasa",), rasa_model=bot.model)
        ) as stack:
            print(f"  start-up to ready: {stack.service('rasa').ready_after:.1f} s")
            result = evaluate(stack.config.rasa_url, examples, stack.config.rasa_auth_token)
            if args.help_center:
                routing(stack.config.rasa_url, help_center_questions(),
                        stack.config.rasa_auth_token)
        for key in ("parse_p50_ms", "parse_p95_ms"):
            print(f"  {key}: {result[key]:.1f}")
        for key in ("accuracy_all", "accuracy_with_diacritics", "accuracy_without_diacritics"):
            print(f"  {key}: {result[key]}")
        if args.show_errors:
            for err in result["errors"]:  # type: ignore[attr-defined]
                print("   ", err)
        if args.threshold_sweep:
            sweep(result["rows"])  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    sys.exit(main())
