"""Hybrid search: dense e5 similarity plus an accent-folded lexical score.

Dense vectors understand paraphrase ("tiền ship" ~ "phí vận chuyển") but degrade on text
without diacritics or in teencode; the lexical side compares folded, teencode-expanded tokens
and bigrams, which is exactly where the dense side is weak. Each side is computed over every
passage (a help center has hundreds to a few thousand), then blended.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cskh.text import bigrams, expand_teencode, fold, has_diacritics, normalize, tokens
from knowledge_base.embedders import Embedder, load_embedder
from knowledge_base.index import load_index, read_manifest
from knowledge_base.ingest import Passage

# Folded function words that carry no topic; they would otherwise dilute coverage. Words whose
# folded form is ambiguous with a topic word are kept out ("ma" is also "mã", "the" is "thẻ",
# "ha" starts "Hà Nội").
STOPWORDS = frozenset(
    """a ah ak anh ban bi cac cai cho chi cua dang duoc em gi gium giup hay hoi khi la len luc
    minh mot nao ne neu nha nhe nhi nhung oi roi sao se shop thi toi va vay vao voi vui xin
    admin ad""".split()
)


@dataclass(frozen=True)
class SearchConfig:
    # Weights and the dense rescaling range were chosen on the retrieval eval set
    # (`cskh eval kb`); e5 cosine similarities live in a narrow band near 0.75-0.92.
    dense_weight: float = 0.55
    dense_floor: float = 0.75
    dense_ceiling: float = 0.95
    title_boost: float = 1.5


@dataclass(frozen=True)
class Hit:
    article_id: str
    title: str
    section: str
    url: str
    text: str
    score: float
    dense: float
    lexical: float

    def to_json(self) -> dict[str, object]:
        return {
            "title": self.title,
            "section": self.section,
            "url": self.url,
            "text": self.text,
            "score": round(self.score, 4),
        }


def _terms(text: str) -> list[str]:
    """Content words plus every adjacent pair ("ha_noi", "hoan_tien") of the folded text."""
    return [t for t in tokens(text) if t not in STOPWORDS] + bigrams(text)


class LexicalIndex:
    """IDF-weighted coverage of the query's folded terms by each passage, in [0, 1].

    Coverage rather than raw BM25 so that the value is comparable across queries and can be
    blended with cosine similarity and thresholded ("is this a confident answer?").
    """

    def __init__(self, passages: Sequence[Passage], title_boost: float) -> None:
        self._postings: dict[str, dict[int, float]] = {}
        doc_freq: Counter[str] = Counter()
        for i, passage in enumerate(passages):
            body = Counter(_terms(passage.text))
            heading = set(_terms(f"{passage.title} {passage.section}"))
            weights: dict[str, float] = {}
            for term in set(body) | heading:
                # Saturating term frequency: a word said three times is not three times the match.
                tf = body.get(term, 0)
                weight = tf / (tf + 1.0)
                if term in heading:
                    weight = max(weight, 0.5) * title_boost
                weights[term] = min(weight, 1.0)
            for term, weight in weights.items():
                self._postings.setdefault(term, {})[i] = weight
            doc_freq.update(weights.keys())
        n = max(len(passages), 1)
        self._idf = {t: math.log(1 + (n - df + 0.5) / (df + 0.5)) for t, df in doc_freq.items()}
        self._size = len(passages)

    def scores(self, query: str) -> np.ndarray:
        out = np.zeros(self._size, dtype=np.float32)
        # Unknown terms cannot match anything; counting them would only shrink every score.
        terms = [t for t in set(_terms(query)) if t in self._idf]
        total = sum(self._idf[t] for t in terms)
        if not total:
            return out
        for term in terms:
            idf = self._idf[term] / total
            for i, weight in self._postings[term].items():
                out[i] += idf * weight
        return out


class KnowledgeBase:
    """Loaded once per process (action server, hub, CLI) and shared by every request."""

    def __init__(
        self,
        passages: Sequence[Passage],
        vectors: np.ndarray,
        embedder: Embedder,
        config: SearchConfig | None = None,
    ) -> None:
        self.passages = list(passages)
        self.embedder = embedder
        self.config = config or SearchConfig()
        n = len(self.passages)
        self._original = np.ascontiguousarray(vectors[:n])
        self._folded = np.ascontiguousarray(vectors[n:])
        self._lexical = LexicalIndex(self.passages, self.config.title_boost)
        self.article_ids = sorted({p.article_id for p in self.passages})

    @classmethod
    def load(
        cls,
        index_dir: Path,
        embedder: Embedder | None = None,
        config: SearchConfig | None = None,
    ) -> KnowledgeBase:
        """Load an index; with no embedder given, the one the index was built with."""
        if embedder is None:
            embedder = load_embedder(read_manifest(index_dir)["embedder"])
        data = load_index(index_dir, embedder)
        return cls(data.passages, data.vectors, embedder, config)

    @classmethod
    def from_passages(
        cls, passages: Sequence[Passage], embedder: Embedder, config: SearchConfig | None = None
    ) -> KnowledgeBase:
        """An in-memory knowledge base, for tests and small tools."""
        texts = [p.embedding_text() for p in passages]
        vectors = embedder.embed_passages(texts + [fold(t) for t in texts])
        return cls(passages, vectors, embedder, config)

    def dense_scores(self, query: str) -> np.ndarray:
        variants = [normalize(query)]
        expanded = expand_teencode(query)
        if expanded != fold(query):
            variants.append(expanded)
        q = self.embedder.embed_queries(variants)
        scores = self._folded @ q.T  # (n, variants)
        best = scores.max(axis=1)
        if has_diacritics(query):
            best = np.maximum(best, self._original @ q[0])
        return best

    def score_all(
        self, query: str, dense: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        cfg = self.config
        if dense is None:
            dense = self.dense_scores(query)
        lexical = self._lexical.scores(query)
        span = cfg.dense_ceiling - cfg.dense_floor
        dense_scaled = np.clip((dense - cfg.dense_floor) / span, 0.0, 1.0)
        blended = cfg.dense_weight * dense_scaled + (1 - cfg.dense_weight) * lexical
        return blended, dense, lexical

    def _hit(self, i: int, blended: np.ndarray, dense: np.ndarray, lexical: np.ndarray) -> Hit:
        p = self.passages[i]
        return Hit(
            p.article_id, p.title, p.section, p.url, p.text,
            float(blended[i]), float(dense[i]), float(lexical[i]),
        )

    def search(self, query: str, top_k: int = 5, dense: np.ndarray | None = None) -> list[Hit]:
        """Best passages first; `dense` lets a caller reuse already computed dense scores."""
        if not query.strip() or not self.passages or top_k <= 0:
            return []
        blended, dense, lexical = self.score_all(query, dense)
        order = np.argsort(-blended, kind="stable")[:top_k]
        return [self._hit(int(i), blended, dense, lexical) for i in order]

    def search_within(self, query: str, article_id: str, top_k: int = 1) -> list[Hit]:
        """Best passages of one article (the customer picked it from the offered titles)."""
        rows = [i for i, p in enumerate(self.passages) if p.article_id == article_id]
        if not rows:
            return []
        if not query.strip():
            blended = np.zeros(len(self.passages), dtype=np.float32)
            return [self._hit(i, blended, blended, blended) for i in rows[:top_k]]
        blended, dense, lexical = self.score_all(query)
        rows.sort(key=lambda i: -blended[i])
        return [self._hit(i, blended, dense, lexical) for i in rows[:top_k]]

    def passages_for(self, article_id: str) -> list[Passage]:
        return [p for p in self.passages if p.article_id == article_id]
