#!/usr/bin/env python3
"""Validate triage/data/sentiment*.jsonl and print the statistics quoted in DATASHEET.md.

Checks: valid JSON per line, allowed keys/labels/splits, counts per class per split,
share of lines without Vietnamese diacritics, style coverage (heuristic), exact duplicates
(case/space/punctuation/diacritic-insensitive) and near-duplicates (word Jaccard > 0.8 or
word-level edit distance <= 1), plus train/test pairs that look like paraphrases.

The files are checked together (duplicates and train/test leakage across files count), and
every line is compared with the retrieval questions (`knowledge_base/eval/questions.jsonl`),
which are a separate held-out check of the sentiment model and must stay out of this data.

Usage: python3 validate_sentiment.py [path ...] [--strict]
(default: sentiment.jsonl and sentiment_extra*.jsonl next to this script; not the frozen set)
Exit code 1 on schema errors, exact duplicates or a line copying a retrieval question (and
on near-duplicates with --strict).
"""

import json
import re
import sys
import unicodedata
from collections import Counter
from itertools import combinations
from pathlib import Path

LABELS = ["angry", "negative", "neutral", "positive"]
SPLITS = ["train", "test"]

# heuristic style lexicons (matched on lower-cased, diacritic-stripped tokens unless noted).
# Deliberately left out: loanwords that are ordinary Vietnamese chat ("ok", "ship", "shop",
# "order") and English words that collide with diacritic-stripped Vietnamese
# ("a"<-à/ạ, "so"<-số, "in", "the"<-thể, "my"<-Mỹ, "it"<-ít, "lot"<-lót, "do", "can"<-cần,
# "me"<-mẹ, "to"<-to/tố, "i"<-ĩ).
TEENCODE = {
    "ko",
    "k",
    "khum",
    "hok",
    "dc",
    "sp",
    "sh",
    "ad",
    "ib",
    "j",
    "z",
    "r",
    "vs",
    "bt",
    "oke",
    "oki",
    "okie",
    "tks",
    "thanks",
    "bum",
    "vl",
    "cl",
    "dm",
    "cc",
    "wtf",
    "rep",
    "bh",
    "tk",
    "stk",
    "sdt",
    "ae",
    "t",
    "hic",
    "cskh",
    "lun",
    "cty",
    "fb",
    "tr",
    "5p",
    "2tr",
    "1tr2",
    "1tr890",
    "xai",
}
# slang recognisable only with its diacritics (substring match on the original, lower-cased text)
TEENCODE_DIAC = {"vãi", "đm", "đc", "đ.m", "đ*o", "éo", "ổn áp", "xỉu"}
ENGLISH = {
    "is",
    "i'm",
    "i've",
    "you",
    "your",
    "order",
    "refund",
    "cancel",
    "cancelled",
    "scam",
    "delivery",
    "service",
    "thanks",
    "thank",
    "please",
    "pls",
    "return",
    "tracking",
    "number",
    "status",
    "product",
    "support",
    "highly",
    "recommend",
    "perfect",
    "love",
    "nice",
    "good",
    "great",
    "seriously",
    "wtf",
    "fuck",
    "worst",
    "ever",
    "hold",
    "delay",
    "ghost",
    "leave",
    "happy",
    "disappointed",
    "sad",
    "kinda",
    "tbh",
    "hope",
    "apply",
    "code",
    "pay",
    "hi",
    "hello",
    "noted",
    "awesome",
    "very",
    "fast",
    "super",
    "amazing",
    "still",
    "waiting",
    "want",
    "does",
    "what",
    "how",
    "when",
    "will",
    "anyone",
    "there",
    "again",
    "never",
    "money",
    "back",
    "now",
    "check",
    "slow",
    "item",
    "received",
    "brb",
    "screenshot",
    "dead",
    "pixel",
    "made",
    "customer",
    "invoice",
    "joke",
    "calls",
    "unacceptable",
    "everything",
    "much",
    "condition",
    "quality",
    "price",
    "buy",
    "come",
    "arrive",
    "honestly",
    "package",
    "experience",
    "late",
    "were",
    "was",
    "are",
    "this",
    "with",
    "for",
    "and",
    "but",
    "of",
    "from",
    "bit",
    "worried",
    "review",
    "report",
    "fake",
    "seen",
    "block",
    "inbox",
    "feedback",
    "confirm",
    "update",
    "reset",
    "setup",
    "products",
}
EMOJI_RE = re.compile("[\U0001f300-\U0001faff\u2600-\u27bf\u2b50\u2764\ufe0f]")
ORDER_RE = re.compile(r"\bDH\d{6}\b")
PHONE_RE = re.compile(r"\b0\d{2,3}[ .]?\d{3}[ .]?\d{3,4}\b")


def strip_diacritics(s: str) -> str:
    s = s.replace("đ", "d").replace("Đ", "D")
    nfd = unicodedata.normalize("NFD", s)
    return unicodedata.normalize("NFC", "".join(c for c in nfd if not "\u0300" <= c <= "\u036f"))


def has_diacritics(s: str) -> bool:
    return strip_diacritics(s) != unicodedata.normalize("NFC", s)


def tokens(s: str):
    s = strip_diacritics(s.lower())
    s = re.sub(r"[^\w\s']", " ", s)
    return s.split()


def word_edit_distance(a, b):
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i]
        for j, y in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y)))
        prev = cur
    return prev[-1]


def is_caps(text):
    letters = [c for c in text if c.isalpha()]
    up = [c for c in letters if c.isupper()]
    return len(letters) >= 8 and len(up) / len(letters) >= 0.7


def styles(text):
    toks = tokens(text)
    low = text.lower()
    st = {
        "no_diacritics": not has_diacritics(text),
        "teencode_slang": bool(set(toks) & TEENCODE)
        or any(w in low for w in TEENCODE_DIAC)
        or (not has_diacritics(text) and "vai" in toks),
        "emoji": bool(EMOJI_RE.search(text)),
        "english_or_mixed": len(set(toks) & ENGLISH) >= 1,
        "all_caps": is_caps(text),
        "repeated_!!!_or_???": bool(re.search(r"[!?]{2,}", text)),
        "order_code": bool(ORDER_RE.search(text)),
        "phone_number": bool(PHONE_RE.search(text)),
        "short_<=3_words": len(text.split()) <= 3,
        "long_>=20_words": len(text.split()) >= 20,
    }
    return st


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    strict = "--strict" in sys.argv
    here = Path(__file__).resolve().parent
    paths = [Path(a) for a in args] or [
        here / name for name in (
            "sentiment.jsonl", "sentiment_extra.jsonl", "sentiment_extra2.jsonl",
            "sentiment_extra3.jsonl",
        )
    ]
    rows, errors = [], []
    lines = [
        (f"{path.name}:{n}", line)
        for path in paths
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
    ]
    for n, line in lines:
        try:
            r = json.loads(line)
        except json.JSONDecodeError as e:
            errors.append(f"line {n}: invalid JSON ({e})")
            continue
        if set(r) - {"kind"} != {"text", "label", "split"}:
            errors.append(f"line {n}: keys {sorted(r)}")
        if r.get("label") not in LABELS:
            errors.append(f"line {n}: bad label {r.get('label')!r}")
        if r.get("split") not in SPLITS:
            errors.append(f"line {n}: bad split {r.get('split')!r}")
        if not isinstance(r.get("text"), str) or not r["text"].strip() or "\n" in r["text"]:
            errors.append(f"line {n}: empty/multiline text")
        r["_n"] = n
        rows.append(r)

    for path in paths:
        count = sum(1 for n, _ in lines if n.startswith(f"{path.name}:"))
        print(f"file: {path}  lines: {count}")
    print(f"all files: {len(rows)} lines")
    for error in errors:
        print("ERROR", error)

    # ---- class balance per split
    c = Counter((r["split"], r["label"]) for r in rows)
    tot = {s: sum(c[(s, l)] for l in LABELS) for s in SPLITS}
    print("\n| label | train | train % | test | test % | total | total % |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for l in LABELS:
        t = c[("train", l)] + c[("test", l)]
        print(
            f"| {l} | {c[('train', l)]} | {100 * c[('train', l)] / tot['train']:.1f} | "
            f"{c[('test', l)]} | {100 * c[('test', l)] / tot['test']:.1f} | {t} | {100 * t / len(rows):.1f} |"
        )
    print(
        f"| **total** | {tot['train']} | {100 * tot['train'] / len(rows):.1f} (of all) | "
        f"{tot['test']} | {100 * tot['test'] / len(rows):.1f} (of all) | {len(rows)} | 100 |"
    )

    # ---- style coverage
    st_rows = [(r, styles(r["text"])) for r in rows]
    keys = list(st_rows[0][1])
    print("\n| style (heuristic) | all | train | test | angry | negative | neutral | positive |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for k in keys:

        def share(pred):
            sel = [s for r, s in st_rows if pred(r)]
            return f"{100 * sum(s[k] for s in sel) / max(1, len(sel)):.1f}%"

        cells = [
            share(lambda r: True),
            share(lambda r: r["split"] == "train"),
            share(lambda r: r["split"] == "test"),
        ]
        cells += [share(lambda r, l=l: r["label"] == l) for l in LABELS]
        print(f"| {k} | " + " | ".join(cells) + " |")

    # ---- exact duplicates (case/space/punct/diacritic-insensitive)
    seen: dict[str, dict] = {}
    dups: list[tuple[dict, dict]] = []
    for r in rows:
        key = " ".join(tokens(r["text"])) or r["text"].strip()
        if key in seen:
            dups.append((seen[key], r))
        else:
            seen[key] = r
    print(f"\nexact duplicates (normalised): {len(dups)}")
    for a, b in dups:
        print(
            f"  DUP line {a['_n']} / {b['_n']}: {a['text']!r} [{a['label']}] | {b['text']!r} [{b['label']}]"
        )

    # ---- near duplicates
    toks = [(r, tokens(r["text"])) for r in rows]
    near, para = [], []
    for (ra, ta), (rb, tb) in combinations(toks, 2):
        sa, sb = set(ta), set(tb)
        if not sa or not sb:
            continue
        jac = len(sa & sb) / len(sa | sb)
        ed = word_edit_distance(ta, tb) if abs(len(ta) - len(tb)) <= 1 and jac >= 0.3 else 99
        one_word_ext = ed <= 1 and max(len(ta), len(tb)) == 2 and (sa <= sb or sb <= sa)
        if jac > 0.8 or (ed <= 1 and min(len(ta), len(tb)) >= 2) or one_word_ext:
            near.append((jac, ed, ra, rb))
        elif ra["split"] != rb["split"] and jac >= 0.6:
            para.append((jac, ra, rb))
    print(
        f"near-duplicates (Jaccard>0.8, or word edit distance<=1 with >=2 words, or 1-word line extended by 1 word): {len(near)}"
    )
    for jac, ed, a, b in sorted(near, key=lambda x: -x[0]):
        print(
            f"  NEAR j={jac:.2f} ed={ed} {a['text']!r} [{a['label']}/{a['split']}] | {b['text']!r} [{b['label']}/{b['split']}]"
        )
    print(f"train/test pairs with 0.6<=Jaccard<=0.8 (possible paraphrase leakage): {len(para)}")
    for jac, a, b in sorted(para, key=lambda x: -x[0]):
        print(
            f"  PARA j={jac:.2f} {a['text']!r} [{a['label']}/{a['split']}] | {b['text']!r} [{b['label']}/{b['split']}]"
        )

    # ---- retrieval questions: a separate held-out set, never copied or paraphrased here
    qpath = here.parent.parent / "knowledge_base" / "eval" / "questions.jsonl"
    copied = []
    if qpath.exists():
        questions = [
            json.loads(line)["question"]
            for line in qpath.read_text(encoding="utf-8").splitlines()
            if line.strip()
        ]
        qtoks = [(q, set(tokens(q))) for q in questions]
        worst = 0.0
        for r, t in toks:
            st = set(t)
            for q, sq in qtoks:
                jac = len(st & sq) / max(1, len(st | sq))
                worst = max(worst, jac)
                if jac >= 0.6:
                    copied.append((jac, r, q))
        print(
            f"\nretrieval questions ({len(questions)}): max word Jaccard with a data line "
            f"{worst:.2f}; lines with Jaccard >= 0.6: {len(copied)} "
            f"(> 0.6 = a copy or paraphrase: FAIL)"
        )
        for jac, r, q in sorted(copied, key=lambda x: -x[0]):
            print(f"  QUESTION j={jac:.2f} {r['text']!r} [line {r['_n']}] | {q!r}")

    leaked = [c for c in copied if c[0] > 0.6]
    bad = bool(errors or dups or leaked or (strict and near))
    print("\nRESULT:", "FAIL" if bad else "OK")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
