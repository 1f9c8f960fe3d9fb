"""`cskh sentiment`, `cskh summarize` and the `eval sentiment` handler (see `eval_commands`).

    cskh sentiment "TEXT" [--json]
    cskh sentiment --input FILE --json       one JSON line per message, in order
    cskh sentiment train [--if-changed]      (re)train the default model
    cskh sentiment train --encoder st:NAME   train our head on a sentence-transformers encoder
    cskh sentiment train --max-false-angry 0.03 --model-dir DIR   another false-angry budget
    --model bundled|st:NAME|hf:NAME          which model scores (default: $CSKH_SENTIMENT_MODEL,
                                             else $CSKH_HUB_SENTIMENT_MODEL, else bundled)
    cskh summarize FILE [--json]             transcript JSON -> handoff summary

`cskh eval` is shared with the knowledge base, so this module does not create it: it
exposes `eval_commands()` and `cskh/cli.py` wires `cskh eval sentiment` from it.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

Handler = Callable[[argparse.Namespace], int]


def _cli_error(message: str) -> Exception:
    # Imported lazily: cskh.cli imports this module while building its parser.
    from cskh.cli import CliError

    return CliError(message)


def _backend(spec: str | None) -> Any:
    from triage.sentiment import parse_backend, spec_from_env

    try:
        return parse_backend(spec if spec is not None else spec_from_env())
    except ValueError as exc:
        raise _cli_error(str(exc)) from exc


def _model_dir(args: argparse.Namespace, backend: Any) -> Path:
    from triage.sentiment import default_model_dir

    return Path(args.model_dir) if args.model_dir is not None else default_model_dir(backend)


def _load_model(args: argparse.Namespace) -> Any:
    from triage.sentiment import (
        SentimentModelUnavailable,
        TransformersSentimentModel,
        load_default_model,
        load_encoder_model,
    )

    backend = _backend(getattr(args, "model", None))
    model_dir = _model_dir(args, backend)
    try:
        if backend.kind == "st":
            return load_encoder_model(backend.name, model_dir)
        if backend.kind == "hf":
            return TransformersSentimentModel.from_config(backend.name, args.label_config)
        return load_default_model(model_dir, args.data)
    except SentimentModelUnavailable as exc:
        raise _cli_error(str(exc)) from exc
    except (OSError, ValueError) as exc:
        raise _cli_error(f"cannot load sentiment model {backend.spec!r}: {exc}") from exc


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    from triage.sentiment import DEFAULT_DATA_PATHS, SPEC_HELP

    parser.add_argument("--model", default=None,
                        help=f"{SPEC_HELP}; default: $CSKH_SENTIMENT_MODEL, else "
                        "$CSKH_HUB_SENTIMENT_MODEL, else bundled")
    parser.add_argument("--label-config", type=Path, default=None,
                        help="YAML/JSON label mapping for an hf: model")
    parser.add_argument("--data", type=Path, nargs="+", default=list(DEFAULT_DATA_PATHS),
                        metavar="JSONL",
                        help="labelled data, one or more JSONL files read as one set "
                        "(default: triage/data/sentiment.jsonl and sentiment_extra, "
                        "_extra2 and _extra3.jsonl)")
    parser.add_argument("--model-dir", type=Path, default=None,
                        help="where the trained head is saved (default: var/models/sentiment, "
                        "or var/models/sentiment-<encoder> for st:)")


# --------------------------------------------------------------------------------------------
# cskh sentiment


def _read_lines(path: str) -> list[str]:
    try:
        raw = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise _cli_error(f"cannot read {path}: {exc}") from exc
    # One message per line; blank lines are not messages.
    return [line.strip() for line in raw.splitlines() if line.strip()]


def _check_data(paths: Sequence[Path]) -> None:
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        raise _cli_error(f"labelled data not found: {', '.join(missing)}")


def _train(args: argparse.Namespace) -> int:
    from triage.sentiment import (
        SentenceTransformerEncoder,
        SentimentModelUnavailable,
        TrainConfig,
        needs_training,
        train,
    )

    backend = _backend(args.encoder if args.encoder is not None else args.model)
    if backend.kind == "hf":
        raise _cli_error(f"{backend.spec!r} is a finished classifier, nothing to train here; "
                         "train our head on an encoder with --encoder st:<name-or-path>")
    model_dir = _model_dir(args, backend)
    _check_data(args.data)
    # Only an st: head records its encoder as the thing to match; the bundled manifest
    # check stays as it was.
    encoder_name = backend.spec if backend.kind == "st" else None
    config = TrainConfig()
    if args.max_false_angry is not None:
        config = dataclasses.replace(config, max_false_angry=args.max_false_angry)
    if args.if_changed and not needs_training(
        args.data, model_dir, config, encoder_name=encoder_name
    ):
        print(f"sentiment model up to date ({model_dir})")
        return 0
    try:
        encoder = SentenceTransformerEncoder(backend.name) if backend.kind == "st" else None
        report = train(args.data, model_dir, config, encoder=encoder)
    except SentimentModelUnavailable as exc:
        raise _cli_error(str(exc)) from exc
    except ValueError as exc:
        raise _cli_error(str(exc)) from exc
    cv = report.cv
    print(
        f"trained on {report.n_train} messages {report.counts} in {report.seconds:.1f} s -> "
        f"{report.model_dir}\n"
        f"C={report.C} thresholds: angry>={report.thresholds.angry:.2f}, "
        f"negative>={report.thresholds.negative:.2f} (cross-validated on train)\n"
        f"train CV: macro-F1(4) {cv['oof_macro_f1_4_argmax']:.3f}, "
        f"angry recall {cv['oof_angry_recall']:.3f}, "
        f"calm flagged angry {cv['oof_false_angry']:.1%}, "
        f"neutral escalated {cv['oof_neutral_escalated']:.1%}"
    )
    return 0


def _sentiment(args: argparse.Namespace) -> int:
    if args.text == "train" and args.input is None:
        return _train(args)
    if args.input is not None and args.text is not None:
        raise _cli_error("give either TEXT or --input FILE, not both")
    if args.input is None and args.text is None:
        raise _cli_error('give a message: cskh sentiment "TEXT" (or --input FILE)')
    texts = _read_lines(args.input) if args.input is not None else [args.text]
    model = _load_model(args)
    results = model.predict(texts) if texts else []
    for text, s in zip(texts, results, strict=True):
        if args.json:
            print(json.dumps({"text": text, **s.to_dict()}, ensure_ascii=False), flush=False)
        else:
            flag = " ANGRY" if s.angry else ""
            print(f"{s.label}{flag}\t{s.score:+.2f}\t{text}")
    sys.stdout.flush()
    return 0


# --------------------------------------------------------------------------------------------
# cskh summarize


def _load_transcript(path: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    try:
        raw = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        data = json.loads(raw)
    except OSError as exc:
        raise _cli_error(f"cannot read {path}: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise _cli_error(f"{path} is not JSON: {exc}") from exc
    extra: dict[str, Any] = {}
    if isinstance(data, Mapping):  # also accept {"channel", "turns": [...]} (a hub export)
        extra = {k: v for k, v in data.items() if k not in ("turns", "messages")}
        data = data.get("turns", data.get("messages"))
    if not isinstance(data, list) or not all(
        isinstance(t, Mapping) and t.get("role") in ("user", "bot", "agent") for t in data
    ):
        raise _cli_error(
            f'{path}: expected a JSON list of {{"role": "user"|"bot"|"agent", "text", "ts"}}'
        )
    return [dict(t) for t in data], extra


def _summarize(args: argparse.Namespace) -> int:
    from triage.escalation import REASONS, decide, load_policy
    from triage.summary import parse_ts, summarize

    turns, extra = _load_transcript(args.file)
    model = None
    if not args.no_model and any(
        t.get("role") == "user" and "sentiment" not in t for t in turns
    ):
        model = _load_model(args)
    # Score the customer turns once, so the decision and the summary see the same sentiment.
    if model is not None:
        missing = [t for t in turns if t.get("role") == "user" and "sentiment" not in t
                   and str(t.get("text") or "").strip()
                   and not str(t.get("text")).lstrip().startswith("/")]  # button payloads
        for turn, s in zip(missing, model.predict([str(t["text"]) for t in missing]),
                           strict=True):
            turn["sentiment"] = s.to_dict()
    if args.reasons is not None:
        reasons = [r.strip() for r in args.reasons.split(",") if r.strip()]
    else:
        # No reasons given: replay the escalation decision on every customer message (as the
        # hub would have taken it) and keep every reason seen, most urgent first.
        policy = load_policy()
        seen: dict[str, None] = {}
        for i, turn in enumerate(turns):
            if turn.get("role") == "user":
                for reason in decide(turns[:i], turn, extra.get("profile"), policy).reasons:
                    seen.setdefault(reason, None)
        reasons = sorted(seen, key=lambda r: (-policy.priority.get(r, 1), REASONS.index(r)))
    waited = args.waited
    if waited is None and extra.get("waited_seconds") is not None:
        waited = float(extra["waited_seconds"])
    if waited is None and args.now is not None and turns:
        first = parse_ts(turns[0].get("ts"))
        now = parse_ts(args.now)
        waited = (now - first) if first is not None and now is not None else None
    summary = summarize(turns, reasons, args.channel or extra.get("channel"), waited)
    if args.json:
        print(json.dumps(summary.to_dict(), ensure_ascii=False))
    else:
        print(summary.text)
    return 0


# --------------------------------------------------------------------------------------------
# eval sentiment (wired by cskh/cli.py under the shared `eval` command)


def _configure_eval(parser: argparse.ArgumentParser) -> None:
    _add_model_options(parser)
    parser.add_argument("--json", action="store_true", help="print the metrics as JSON")
    parser.add_argument("--errors", type=int, default=0, metavar="N",
                        help="also list the first N misclassified test messages")
    parser.add_argument("--check", action="store_true",
                        help="exit code 1 when a target is not met (for CI)")
    from triage.evaluate import QUESTIONS_PATH

    parser.add_argument("--questions", type=Path, default=QUESTIONS_PATH, metavar="JSONL",
                        help="help-center questions, all non-angry (JSONL with 'question'); "
                        "skipped when the file does not exist")
    from triage.evaluate import CONVERSATIONS_PATH, FROZEN_PATH

    parser.add_argument("--frozen", type=Path, default=FROZEN_PATH, metavar="JSONL",
                        help="frozen labelled messages ('text', 'label', 'kind'), written "
                        "before tuning; skipped when the file does not exist")
    parser.add_argument("--conversations", type=Path, default=CONVERSATIONS_PATH,
                        metavar="JSONL",
                        help="frozen conversations ('turns', 'should_reach_person', 'kind'); "
                        "skipped when the file does not exist")


def _eval_sentiment(args: argparse.Namespace) -> int:
    from triage.evaluate import (
        evaluate_conversations,
        evaluate_frozen,
        evaluate_questions,
        evaluate_split,
        format_conversations_report,
        format_frozen_report,
        format_questions_report,
        format_report,
        format_side_by_side,
    )

    _check_data(args.data)
    model = _load_model(args)
    result = evaluate_split(model, args.data, "test")
    questions = None
    if args.questions is not None and args.questions.exists():
        try:
            questions = evaluate_questions(model, args.questions)
        except ValueError as exc:
            raise _cli_error(str(exc)) from exc
    # The frozen sets (triage/data/FROZEN_SETS.md): measured only, never tuned on.
    frozen = conversations = None
    try:
        if args.frozen is not None and args.frozen.exists():
            frozen = evaluate_frozen(model, args.frozen)
        if args.conversations is not None and args.conversations.exists():
            conversations = evaluate_conversations(model, args.conversations)
    except (OSError, ValueError) as exc:
        raise _cli_error(str(exc)) from exc
    if args.json:
        out = result.to_dict()
        out["help_center"] = questions.to_dict() if questions is not None else None
        out["frozen"] = frozen.to_dict() if frozen is not None else None
        out["frozen_conversations"] = (
            conversations.to_dict() if conversations is not None else None
        )
        print(json.dumps(out, ensure_ascii=False))
    else:
        print(format_report(result, show_errors=args.errors))
        if questions is not None:
            print()
            print(format_questions_report(questions, show=args.errors))
        else:
            print(f"\nhelp-center questions: {args.questions} not found, skipped")
        print()
        if frozen is not None:
            print(format_frozen_report(frozen))
        else:
            print(f"frozen messages: {args.frozen} not found, skipped")
        print()
        if conversations is not None:
            print(format_conversations_report(conversations))
        else:
            print(f"frozen conversations: {args.conversations} not found, skipped")
        if frozen is not None:
            print()
            print(format_side_by_side(result, frozen))
    # --check gates on the sets it always gated on; the frozen numbers are reported only.
    ok = result.meets_targets() and (questions is None or questions.meets_target())
    return 1 if args.check and not ok else 0


def eval_commands() -> dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], Handler]]:
    """Sub-commands of the shared `cskh eval`: name -> (help, configure_parser, handler)."""
    return {
        "sentiment": (
            "sentiment model on the held-out test split (F1, angry recall, false escalations),"
            " on the help-center questions (share flagged angry) and on the frozen sets "
            "(per kind; conversations that reach a person)",
            _configure_eval,
            _eval_sentiment,
        )
    }


# --------------------------------------------------------------------------------------------


def register(subparsers: Any) -> None:
    """Add `sentiment` and `summarize` to the `cskh` parser."""
    p = subparsers.add_parser(
        "sentiment",
        help="sentiment of a message (or `cskh sentiment train`)",
        description='Score messages: cskh sentiment "TEXT" [--json]; '
        "cskh sentiment --input FILE --json (one JSON line per message); "
        "cskh sentiment train [--if-changed] [--encoder st:NAME] to (re)train a model; "
        "--model picks the backend (bundled, st:NAME, hf:NAME).",
    )
    p.add_argument("text", nargs="?", help='the message, or "train" to (re)train the model')
    p.add_argument("--input", metavar="FILE", help="one message per line ('-' = stdin)")
    p.add_argument("--json", action="store_true", help="JSON lines: text, label, angry, score")
    p.add_argument("--if-changed", action="store_true",
                   help="train: only when the data (or feature version) changed")
    p.add_argument("--encoder", default=None, metavar="SPEC",
                   help="train: the vectors the head learns from, 'bundled' (e5) or "
                   "'st:<sentence-transformers name or path>' (default: the --model setting)")
    p.add_argument("--max-false-angry", type=float, default=None, metavar="SHARE",
                   help="train: share of calm out-of-fold training messages the angry "
                   "threshold may flag (default: TrainConfig.max_false_angry, 0.02)")
    _add_model_options(p)
    p.set_defaults(handler=_sentiment)

    s = subparsers.add_parser(
        "summarize",
        help="handoff summary of a transcript JSON file",
        description='Read [{"role": "user"|"bot"|"agent", "text", "ts", "meta"?, '
        '"sentiment"?}] and print the summary an agent reads.',
    )
    s.add_argument("file", help="transcript JSON ('-' = stdin)")
    s.add_argument("--json", action="store_true",
                   help='print {"text", "reasons", "facts", "sentiment"}')
    s.add_argument("--reasons", default=None,
                   help="comma-separated handoff reasons (default: decided from the transcript)")
    s.add_argument("--channel", default=None, help="web | messenger | zalo")
    s.add_argument("--waited", type=float, default=None, metavar="SECONDS",
                   help="how long the customer has waited for a person")
    s.add_argument("--now", default=None,
                   help="with no --waited: compute the wait from the first turn's ts to NOW")
    s.add_argument("--no-model", action="store_true",
                   help="do not score turns that carry no sentiment")
    _add_model_options(s)
    s.set_defaults(handler=_summarize)


def main(argv: Sequence[str] | None = None) -> int:
    """Run this module's commands alone (e.g. `python -m triage.cli sentiment "..."`)."""
    parser = argparse.ArgumentParser(prog="cskh")
    sub = parser.add_subparsers(dest="command", required=True)
    register(sub)
    ev = sub.add_parser("eval").add_subparsers(dest="what", required=True)
    for name, (help_, configure, handler) in eval_commands().items():
        q = ev.add_parser(name, help=help_)
        configure(q)
        q.set_defaults(handler=handler)
    args = parser.parse_args(argv)
    from cskh.cli import CliError

    try:
        return int(args.handler(args) or 0)
    except CliError as exc:
        print(f"cskh: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
