"""Sanity checks for the retrieval evaluation sets (knowledge_base/eval/*.jsonl, eval/telco).

Checks that every question points at an existing article and at a heading that really exists in
that article (## / ### in .md and .txt, <h2> / <h3> in .html), that styles are labelled and
consistent, and that a set is big and varied enough. When a line has "facts" (the strings a
correct reply must contain), each must be a non-empty string found in that section's text as
knowledge_base/ingest.py splits it (the text from the heading up to the next heading), compared
the way replies are scored: case-insensitive, NFC, runs of whitespace as one space. Prints the
counts; exits 1 on any error.

    python3 knowledge_base/eval/validate_questions.py              # main, short and telco sets
    python3 knowledge_base/eval/validate_questions.py main short   # some of them
    python3 knowledge_base/eval/validate_questions.py --questions FILE --articles DIR

Needs PyYAML (the articles' front matter), as the project's .venv has.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import sys
import unicodedata
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))  # run as a script: the repository root is not on the path

from knowledge_base.ingest import IngestError, read_article  # noqa: E402

ARTICLES = HERE.parent / "articles"
QUESTIONS = HERE / "questions.jsonl"
SHORT_QUESTIONS = HERE / "short_questions.jsonl"
TELCO = HERE / "telco"

STYLES = frozenset({"diacritics", "no_diacritics", "teencode"})
MIN_QUESTIONS = 150
MIN_INFORMAL = 50  # no_diacritics + teencode
MIN_PER_ARTICLE = 3
MAX_FACTS = 2
# Replies are compared with this emphasis removed, so a fact holding it could never be found.
MARKDOWN_EMPHASIS = ("**", "__", "`")
VIET_MARKS = re.compile(
    "[àáảãạăắằẳẵặâấầẩẫậèéẻẽẹêếềểễệìíỉĩịòóỏõọôốồổỗộơớờởỡợùúủũụưứừửữựỳýỷỹỵđ]", re.IGNORECASE
)
SUFFIXES = (".md", ".txt", ".html", ".htm")


@dataclass(frozen=True)
class EvalSet:
    name: str
    questions: Path
    articles: Path
    styles: frozenset[str] = STYLES
    min_questions: int = 0
    min_informal: int = 0
    min_per_article: int = 0
    max_words: int | None = None  # longest question allowed, in words


SETS = {
    "main": EvalSet(
        "main",
        QUESTIONS,
        ARTICLES,
        min_questions=MIN_QUESTIONS,
        min_informal=MIN_INFORMAL,
        min_per_article=MIN_PER_ARTICLE,
    ),
    # first messages as customers type them (tests/unit/test_kb_eval_set.py: >= 40, <= 7 words)
    "short": EvalSet("short", SHORT_QUESTIONS, ARTICLES, min_questions=40, max_words=7),
    # another help center, frozen (see its README: 4-6 questions per article, a "short" style)
    "telco": EvalSet(
        "telco",
        TELCO / "questions.jsonl",
        TELCO / "articles",
        styles=STYLES | {"short"},
        min_per_article=4,
    ),
}


def headings(path: Path) -> list[str]:
    raw = path.read_text(encoding="utf-8")
    if path.suffix.lower() in (".html", ".htm"):
        found = re.findall(r"<h([23])[^>]*>(.*?)</h\1>", raw, flags=re.DOTALL | re.IGNORECASE)
        return [" ".join(html.unescape(re.sub(r"<[^>]+>", "", t)).split()) for _, t in found]
    return [m.group(2).strip() for m in re.finditer(r"^(#{2,3})\s+(.+?)\s*$", raw, flags=re.M)]


def fact_key(text: str) -> str:
    """As knowledge_base.evaluate.fact_key compares a reply with its facts (not imported: that
    module needs the index stack; this checker needs only PyYAML)."""
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


def section_texts(path: Path) -> dict[str, str]:
    """Heading -> text of that section, as the index splits the article."""
    return dict(read_article(path).sections)


def fact_errors(n: int, row: dict, texts: dict[str, str] | None) -> list[str]:
    """Problems with a line's "facts"; texts is None when the article could not be read."""
    facts, art, sec = row["facts"], row["article"], row["section"]
    if not isinstance(facts, list) or not all(isinstance(f, str) for f in facts):
        return [f"line {n}: facts must be a list of strings, got {facts!r}"]
    errors = []
    if not 1 <= len(facts) <= MAX_FACTS:
        errors.append(f"line {n}: {len(facts)} facts (need 1 to {MAX_FACTS})")
    if texts is None:
        return errors
    text = texts.get(sec)
    if text is None:
        return [*errors, f"line {n}: {art} has no text under {sec!r} as the index splits it"]
    key = fact_key(text)
    for fact in facts:
        if not fact.strip():
            errors.append(f"line {n}: empty fact")
        elif any(mark in fact for mark in MARKDOWN_EMPHASIS):
            errors.append(
                f"line {n}: fact {fact!r} holds markdown emphasis (** __ `), which replies have removed"
            )
        elif fact_key(fact) not in key:
            errors.append(f"line {n}: fact {fact!r} is not in the text of {art} / {sec!r}")
    return errors


def validate(spec: EvalSet) -> int:
    """Checks one set, prints its counts and problems; returns the number of problems."""
    print(f"== {spec.name}: {spec.questions} (articles: {spec.articles})")
    errors: list[str] = []
    if not spec.articles.is_dir():
        print(f"\n1 problem(s):\n  - no such folder: {spec.articles}\n")
        return 1
    if not spec.questions.is_file():
        print(f"\n1 problem(s):\n  - no such file: {spec.questions}\n")
        return 1
    files = {p.stem: p for p in spec.articles.iterdir() if p.suffix.lower() in SUFFIXES}
    heads = {slug: headings(p) for slug, p in files.items()}
    for slug, hs in heads.items():
        if len(hs) != len(set(hs)):
            errors.append(f"{slug}: duplicate headings")
    texts: dict[str, dict[str, str] | None] = {}

    def section_text_of(slug: str) -> dict[str, str] | None:
        if slug not in texts:
            try:
                texts[slug] = section_texts(files[slug])
            except IngestError as exc:
                errors.append(f"{slug}: cannot be read as the index reads it ({exc})")
                texts[slug] = None
        return texts[slug]

    rows = []
    for n, line in enumerate(spec.questions.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            errors.append(f"line {n}: bad JSON ({exc})")
            continue
        if not isinstance(row, dict):
            errors.append(f"line {n}: not a JSON object")
            continue
        missing = {"question", "article", "section", "style"} - row.keys()
        if missing:
            errors.append(f"line {n}: missing {sorted(missing)}")
            continue
        q, art, sec, style = row["question"], row["article"], row["section"], row["style"]
        if art not in files:
            errors.append(f"line {n}: no article {art!r}")
        elif sec not in heads[art]:
            errors.append(f"line {n}: {art} has no heading {sec!r}")
        elif "facts" in row:
            errors += fact_errors(n, row, section_text_of(art))
        if style not in spec.styles:
            errors.append(f"line {n}: unknown style {style!r}")
        if style == "no_diacritics" and VIET_MARKS.search(q):
            errors.append(f"line {n}: labelled no_diacritics but has diacritics: {q!r}")
        if style == "diacritics" and not VIET_MARKS.search(q):
            errors.append(f"line {n}: labelled diacritics but has none: {q!r}")
        if q.strip().lower() == sec.strip().lower():
            errors.append(f"line {n}: question is a copy of its heading")
        if spec.max_words is not None and len(q.split()) > spec.max_words:
            errors.append(f"line {n}: {len(q.split())} words (at most {spec.max_words}): {q!r}")
        rows.append(row)

    dupes = [q for q, c in Counter(r["question"] for r in rows).items() if c > 1]
    errors += [f"duplicate question {q!r}" for q in dupes]

    styles = Counter(r["style"] for r in rows)
    per_article = Counter(r["article"] for r in rows)
    sections = {(r["article"], r["section"]) for r in rows}
    informal = styles["no_diacritics"] + styles["teencode"]
    if len(rows) < spec.min_questions:
        errors.append(f"only {len(rows)} questions (need {spec.min_questions})")
    if informal < spec.min_informal:
        errors.append(
            f"only {informal} no_diacritics/teencode questions (need {spec.min_informal})"
        )
    for slug in files:
        if per_article[slug] < spec.min_per_article:
            errors.append(f"{slug}: {per_article[slug]} questions (need {spec.min_per_article})")

    formats = Counter(p.suffix.lower() for p in files.values())
    total_heads = sum(len(h) for h in heads.values())
    n_facts = Counter(len(r["facts"]) for r in rows if isinstance(r.get("facts"), list))
    print(f"articles: {len(files)} ({', '.join(f'{k} {v}' for k, v in sorted(formats.items()))})")
    print(f"questions: {len(rows)}")
    for style in sorted(spec.styles):
        print(f"  {style:<14} {styles[style]}")
    print(f"  informal total {informal} ({informal / max(len(rows), 1):.0%})")
    print(f"sections covered: {len(sections)} of {total_heads} headings")
    print(
        f"questions per article: min {min((per_article[s] for s in files), default=0)}, max {max(per_article.values(), default=0)}"
    )
    print(
        f"with facts: {sum(n_facts.values())} of {len(rows)} ("
        + ", ".join(f"{k} fact{'s' if k != 1 else ''}: {v}" for k, v in sorted(n_facts.items()))
        + ")"
    )
    if errors:
        print(f"\n{len(errors)} problem(s):")
        for e in errors:
            print("  -", e)
        print()
        return len(errors)
    print("OK\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "sets",
        nargs="*",
        metavar="SET",
        help=f"sets to check: {', '.join(SETS)} (default: all, unless --questions)",
    )
    parser.add_argument(
        "--questions",
        type=Path,
        help="another questions .jsonl (per-line checks and facts; no size minimums)",
    )
    parser.add_argument(
        "--articles",
        type=Path,
        help=f"the articles folder --questions refers to (default: {ARTICLES})",
    )
    args = parser.parse_args(argv)
    unknown = [name for name in args.sets if name not in SETS]
    if unknown:
        parser.error(f"unknown set(s) {', '.join(unknown)}; choose from {', '.join(SETS)}")
    if args.articles is not None and args.questions is None:
        parser.error("--articles goes with --questions")
    specs = [SETS[name] for name in args.sets]
    if args.questions is not None:
        articles = args.articles or ARTICLES
        specs.append(EvalSet("other", args.questions, articles, styles=STYLES | {"short"}))
    elif not specs:
        specs = list(SETS.values())
    problems = sum(validate(spec) for spec in specs)
    if len(specs) > 1:
        print(f"{len(specs)} sets, {problems} problem(s)" if problems else f"{len(specs)} sets OK")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
