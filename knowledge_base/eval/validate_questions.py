"""Sanity checks for the retrieval evaluation set (knowledge_base/eval/questions.jsonl).

Checks that every question points at an existing article and at a heading that really exists in
that article (## / ### in .md and .txt, <h2> / <h3> in .html), that styles are labelled and
consistent, and that the set is big and varied enough. Prints the counts; exits 1 on any error.

    python3 knowledge_base/eval/validate_questions.py
"""

from __future__ import annotations

import html
import json
import re
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
ARTICLES = HERE.parent / "articles"
QUESTIONS = HERE / "questions.jsonl"

STYLES = {"diacritics", "no_diacritics", "teencode"}
MIN_QUESTIONS = 150
MIN_INFORMAL = 50  # no_diacritics + teencode
MIN_PER_ARTICLE = 3
VIET_MARKS = re.compile(
    "[àáảãạăắằẳẵặâấầẩẫậèéẻẽẹêếềểễệìíỉĩịòóỏõọôốồổỗộơớờởỡợùúủũụưứừửữựỳýỷỹỵđ]", re.IGNORECASE
)


def headings(path: Path) -> list[str]:
    raw = path.read_text(encoding="utf-8")
    if path.suffix.lower() in (".html", ".htm"):
        found = re.findall(r"<h([23])[^>]*>(.*?)</h\1>", raw, flags=re.DOTALL | re.IGNORECASE)
        return [" ".join(html.unescape(re.sub(r"<[^>]+>", "", t)).split()) for _, t in found]
    return [m.group(2).strip() for m in re.finditer(r"^(#{2,3})\s+(.+?)\s*$", raw, flags=re.M)]


def main() -> int:
    files = {
        p.stem: p
        for p in ARTICLES.iterdir()
        if p.suffix.lower() in (".md", ".txt", ".html", ".htm")
    }
    heads = {slug: headings(p) for slug, p in files.items()}
    errors: list[str] = []
    for slug, hs in heads.items():
        if len(hs) != len(set(hs)):
            errors.append(f"{slug}: duplicate headings")

    rows = []
    for n, line in enumerate(QUESTIONS.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            errors.append(f"line {n}: bad JSON ({exc})")
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
        if style not in STYLES:
            errors.append(f"line {n}: unknown style {style!r}")
        if style == "no_diacritics" and VIET_MARKS.search(q):
            errors.append(f"line {n}: labelled no_diacritics but has diacritics: {q!r}")
        if style == "diacritics" and not VIET_MARKS.search(q):
            errors.append(f"line {n}: labelled diacritics but has none: {q!r}")
        if q.strip().lower() == sec.strip().lower():
            errors.append(f"line {n}: question is a copy of its heading")
        rows.append(row)

    dupes = [q for q, c in Counter(r["question"] for r in rows).items() if c > 1]
    errors += [f"duplicate question {q!r}" for q in dupes]

    styles = Counter(r["style"] for r in rows)
    per_article = Counter(r["article"] for r in rows)
    sections = {(r["article"], r["section"]) for r in rows}
    informal = styles["no_diacritics"] + styles["teencode"]
    if len(rows) < MIN_QUESTIONS:
        errors.append(f"only {len(rows)} questions (need {MIN_QUESTIONS})")
    if informal < MIN_INFORMAL:
        errors.append(f"only {informal} no_diacritics/teencode questions (need {MIN_INFORMAL})")
    for slug in files:
        if per_article[slug] < MIN_PER_ARTICLE:
            errors.append(f"{slug}: {per_article[slug]} questions (need {MIN_PER_ARTICLE})")

    formats = Counter(p.suffix.lower() for p in files.values())
    total_heads = sum(len(h) for h in heads.values())
    print(f"articles: {len(files)} ({', '.join(f'{k} {v}' for k, v in sorted(formats.items()))})")
    print(f"questions: {len(rows)}")
    for style in sorted(STYLES):
        print(f"  {style:<14} {styles[style]}")
    print(f"  informal total {informal} ({informal / max(len(rows), 1):.0%})")
    print(f"sections covered: {len(sections)} of {total_heads} headings")
    print(
        f"questions per article: min {min(per_article[s] for s in files)}, max {max(per_article.values())}"
    )
    if errors:
        print(f"\n{len(errors)} problem(s):")
        for e in errors:
            print("  -", e)
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
