"""Retrieval evaluation: recall@1, recall@3 and MRR of our search against plain BM25.

Relevance is judged per article (did the right article come first?) and per section (did the
right passage come first?), on `knowledge_base/eval/questions.jsonl`.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cskh.paths import REPO_ROOT
from knowledge_base.ingest import Passage
from knowledge_base.search import KnowledgeBase

DEFAULT_QUESTIONS = REPO_ROOT / "knowledge_base" / "eval" / "questions.jsonl"
# First messages as customers type them (2-6 words, "đổi hàng được không"): written after the
# long set, when the assistant was seen failing such questions; reported separately.
SHORT_QUESTIONS = REPO_ROOT / "knowledge_base" / "eval" / "short_questions.jsonl"
_PLAIN_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class Question:
    question: str
    article: str
    section: str
    style: str


def load_questions(path: Path = DEFAULT_QUESTIONS) -> list[Question]:
    out = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                row = json.loads(line)
                out.append(
                    Question(row["question"], row["article"], row["section"], row.get("style", ""))
                )
    return out


class BM25:
    """Okapi BM25 over lower-cased words with diacritics kept: the textbook baseline."""

    def __init__(self, passages: Sequence[Passage], k1: float = 1.5, b: float = 0.75) -> None:
        self.docs = [
            Counter(_PLAIN_WORD.findall(f"{p.title} {p.section} {p.text}".lower()))
            for p in passages
        ]
        self.lengths = [sum(d.values()) for d in self.docs]
        self.avg = sum(self.lengths) / max(len(self.docs), 1)
        df: Counter[str] = Counter()
        for d in self.docs:
            df.update(d.keys())
        n = len(self.docs)
        self.idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}
        self.k1, self.b = k1, b

    def scores(self, query: str) -> list[float]:
        terms = _PLAIN_WORD.findall(query.lower())
        out = []
        for doc, length in zip(self.docs, self.lengths, strict=True):
            s = 0.0
            for t in terms:
                tf = doc.get(t, 0)
                if tf:
                    length_norm = 1 - self.b + self.b * length / self.avg
                    s += self.idf[t] * tf * (self.k1 + 1) / (tf + self.k1 * length_norm)
            out.append(s)
        return out


@dataclass
class Metrics:
    name: str
    n: int
    recall_at_1: float
    recall_at_3: float
    mrr: float
    section_recall_at_1: float
    section_recall_at_3: float
    ms_p50: float
    ms_p95: float


Ranker = Callable[[str], list[Passage]]


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    k = min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))
    return ordered[k]


def evaluate(name: str, rank: Ranker, questions: Sequence[Question]) -> Metrics:
    r1 = r3 = rr = s1 = s3 = 0.0
    times = []
    for q in questions:
        start = time.perf_counter()
        ranked = rank(q.question)
        times.append((time.perf_counter() - start) * 1000)
        articles: list[str] = []
        for p in ranked:
            if p.article_id not in articles:
                articles.append(p.article_id)
        if q.article in articles:
            pos = articles.index(q.article) + 1
            rr += 1 / pos
            r1 += pos == 1
            r3 += pos <= 3
        sections = [(p.article_id, p.section) for p in ranked]
        target = (q.article, q.section)
        s1 += target in sections[:1]
        s3 += target in sections[:3]
    n = max(len(questions), 1)
    return Metrics(
        name, len(questions), r1 / n, r3 / n, rr / n, s1 / n, s3 / n,
        _percentile(times, 0.5), _percentile(times, 0.95),
    )


def rankers(kb: KnowledgeBase) -> dict[str, Ranker]:
    bm25 = BM25(kb.passages)
    by_id = {(p.article_id, p.section, p.text): p for p in kb.passages}
    dense_cache: dict[str, np.ndarray] = {}

    def dense(query: str) -> np.ndarray:
        # The dense-only ranker reuses the hybrid ranker's embeddings: same numbers, half the time.
        if query not in dense_cache:
            dense_cache[query] = kb.dense_scores(query)
        return dense_cache[query]

    def ours(query: str) -> list[Passage]:
        hits = kb.search(query, top_k=20, dense=dense(query))
        return [by_id[(h.article_id, h.section, h.text)] for h in hits]

    def baseline(query: str) -> list[Passage]:
        scores = bm25.scores(query)
        order = sorted(range(len(scores)), key=lambda i: -scores[i])[:20]
        return [kb.passages[i] for i in order]

    def dense_only(query: str) -> list[Passage]:
        scores = dense(query)
        order = sorted(range(len(scores)), key=lambda i: -scores[i])[:20]
        return [kb.passages[i] for i in order]

    return {"hybrid (ours)": ours, "dense only": dense_only, "bm25 baseline": baseline}


def format_table(results: Sequence[tuple[str, Metrics]]) -> str:
    header = (
        f"{'subset':<15} {'ranker':<15} {'n':>4} {'R@1':>6} {'R@3':>6} {'MRR':>6} "
        f"{'secR@1':>7} {'secR@3':>7} {'p50ms':>7} {'p95ms':>7}"
    )
    lines = [header, "-" * len(header)]
    for subset, m in results:
        lines.append(
            f"{subset:<15} {m.name:<15} {m.n:>4} {m.recall_at_1:>6.3f} {m.recall_at_3:>6.3f} "
            f"{m.mrr:>6.3f} {m.section_recall_at_1:>7.3f} {m.section_recall_at_3:>7.3f} "
            f"{m.ms_p50:>7.1f} {m.ms_p95:>7.1f}"
        )
    return "\n".join(lines)


def run_eval(kb: KnowledgeBase, questions: Sequence[Question]) -> list[tuple[str, Metrics]]:
    subsets: dict[str, list[Question]] = {"all": list(questions)}
    for q in questions:
        subsets.setdefault(q.style or "unlabelled", []).append(q)
    results = []
    ranker_set = rankers(kb)
    for subset, qs in subsets.items():
        for name, rank in ranker_set.items():
            results.append((subset, evaluate(name, rank, qs)))
    return results
