"""Pick the FAQ decision thresholds (actions/settings.py) on labelled customer questions.

For each question in benchmarks/data/faq_queries.tsv (expected article, or "-" when no
article covers it) prints the best hit, its score and the runner-up from another article;
then, for a grid of (confident_score, min_relevant_score, ambiguity_margin), how many
questions get a right answer, a wrong answer, choices containing the right article, or
"nothing relevant". A wrong confident answer is the costly error; choices are cheap. A hedged
answer (the likely passage, "is this it?" and the other titles beside it; the default below the
confident bar) counts with the choice lists: choices-ok when the right article is among them.

    .venv/bin/python benchmarks/faq_thresholds.py --index var/index
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path
from typing import Any

from actions.faq import FaqConfig, answer_question
from cskh.paths import DEFAULT_INDEX_DIR

DATA = Path(__file__).resolve().parent / "data" / "faq_queries.tsv"


def load(path: Path) -> list[tuple[str, str | None]]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            query, slug = line.split("\t")
            rows.append((query.strip(), None if slug.strip() == "-" else slug.strip()))
    return rows


class _CachedSearch:
    """Each question is searched once; the grid below only re-applies thresholds."""

    def __init__(self, kb: Any) -> None:
        self._kb = kb
        self._cache: dict[tuple[str, int, Any], list[Any]] = {}

    def search(
        self, query: str, top_k: int = 5, *, known_vectors: Any = None, context: Any = None
    ) -> list[Any]:
        key = (query, top_k, context)
        if key not in self._cache:
            self._cache[key] = list(self._kb.search(query, top_k=top_k, context=context))
        return self._cache[key]

    def search_within(
        self, query: str, article_id: str, top_k: int = 1, context: Any = None
    ) -> list[Any]:
        return list(self._kb.search_within(query, article_id, top_k=top_k, context=context))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, default=DEFAULT_INDEX_DIR)
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--short", action="store_true",
                        help="add knowledge_base/eval/short_questions.jsonl (all covered)")
    args = parser.parse_args(argv)

    from knowledge_base.search import KnowledgeBase

    kb = _CachedSearch(KnowledgeBase.load(args.index))
    rows = load(DATA)
    if args.short:
        from knowledge_base.evaluate import SHORT_QUESTIONS, load_questions

        rows += [(q.question, q.article) for q in load_questions(SHORT_QUESTIONS)]
    if args.verbose:
        for query, slug in rows:
            hits = kb.search(query, top_k=8)
            best = hits[0]
            other = next((h for h in hits if h.article_id != best.article_id), None)
            mark = "ok " if best.article_id == slug else ("-- " if slug is None else "BAD")
            print(f"{mark} {best.score:.3f} {best.article_id:<26} 2nd "
                  f"{other.score if other else 0:.3f} {other.article_id if other else '':<26} "
                  f"| {query} -> {slug}")

    grid = itertools.product(
        (0.50, 0.55, 0.60, 0.65), (0.40, 0.45, 0.50, 0.55), (0.35, 0.38, 0.40, 0.42, 0.45),
        (0.0, 0.02, 0.04, 0.06),
    )
    results = []
    for confident, folded, minimum, margin in grid:
        if minimum > min(confident, folded):
            continue
        config = FaqConfig(confident_score=confident, confident_score_no_diacritics=folded,
                           min_relevant_score=minimum, ambiguity_margin=margin,
                           hedge_score=minimum)
        right = wrong = choice_ok = choice_bad = none_ok = none_bad = 0
        for query, slug in rows:
            answer = answer_question(kb, query, config)
            ids = [a.id for a in answer.articles]
            if answer.confident:
                right += ids[0] == slug
                wrong += ids[0] != slug
            elif answer.kind == "choices" or answer.hedged:  # the customer sees several
                choice_ok += slug in ids
                choice_bad += slug not in ids
            else:
                none_ok += slug is None
                none_bad += slug is not None
        results.append((confident, folded, minimum, margin, right, wrong, choice_ok,
                        choice_bad, none_ok, none_bad))
    # Best: fewest wrong answers, then most right answers, then most useful choices.
    results.sort(key=lambda r: (r[5], -r[4], -r[6], r[9]))
    print(f"{len(rows)} questions ({sum(s is None for _, s in rows)} not covered)")
    print("        confident no-diacr  min  margin | right wrong | choices-ok choices-bad "
          "| none-ok none-bad")
    defaults = FaqConfig()
    current = (defaults.confident_score, defaults.confident_score_no_diacritics,
               defaults.min_relevant_score, defaults.ambiguity_margin)
    for r in [*results[:15], *(r for r in results if r[:4] == current)]:
        print("current " if r[:4] == current else "        ", end="")
        print(f"{r[0]:9.2f} {r[1]:8.2f} {r[2]:4.2f} {r[3]:7.2f} | {r[4]:5d} {r[5]:5d} | "
              f"{r[6]:10d} {r[7]:11d} | {r[8]:7d} {r[9]:8d}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
