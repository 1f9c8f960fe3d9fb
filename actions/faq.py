"""Answering a help-center question from the knowledge base (plain logic, no Rasa import).

Decision, on the best hits of `KnowledgeBase.search`:
- strong best hit and no close competitor from another article -> answer with the sentences of
  that passage that address the question, plus "Xem thêm: <title> – <url>";
- weak best hit, or two articles scoring about the same -> offer up to 3 article titles;
- nothing relevant -> say so honestly and offer a person.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, Literal, Protocol

from cskh.text import has_diacritics, tokens

# Folded function words: matching on them would make every sentence look relevant.
_STOPWORDS = frozenset(
    """a ah ak anh ban bi cac cai cho chi co cua da dang de di do duoc em gi gium giup ha hay
    hoi khi khong la lam len luc ma minh mot nao ne neu nha nhe nhi nhu nhung o oi roi sao se
    shop thi the toi tu va vay vao ve voi vui xin cam on admin ad""".split()
)
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+(?=[A-ZÀ-Ỹ0-9\"“(])")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+•]|\d+[.)])\s+")
_MARKDOWN = re.compile(r"\*\*|__|`")

AnswerKind = Literal["answer", "choices", "none"]


class HitLike(Protocol):
    """The fields of `knowledge_base.search.Hit` this module reads (read-only)."""

    @property
    def article_id(self) -> str: ...

    @property
    def title(self) -> str: ...

    @property
    def url(self) -> str: ...

    @property
    def text(self) -> str: ...

    @property
    def score(self) -> float: ...


class SearchesKnowledge(Protocol):
    """The part of `knowledge_base.search.KnowledgeBase` the FAQ logic needs."""

    def search(
        self, query: str, top_k: int = 5, *, known_vectors: Mapping[str, Any] | None = None
    ) -> Sequence[HitLike]: ...

    def search_within(self, query: str, article_id: str, top_k: int = 1) -> Sequence[HitLike]: ...


@dataclass(frozen=True)
class FaqConfig:
    confident_score: float = 0.55
    # Queries typed without diacritics score lower on the dense side for the same match
    # quality, so they get their own (lower) bar; measured in bot/MEASUREMENTS.md.
    confident_score_no_diacritics: float = 0.45
    min_relevant_score: float = 0.40
    ambiguity_margin: float = 0.02
    max_answer_chars: int = 600
    max_choices: int = 3
    top_k: int = 8


@dataclass(frozen=True)
class ArticleRef:
    id: str
    title: str
    url: str
    score: float

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "url": self.url, "score": round(self.score, 4)}


@dataclass(frozen=True)
class FaqAnswer:
    kind: AnswerKind
    text: str
    query: str
    articles: list[ArticleRef] = field(default_factory=list)

    @property
    def confident(self) -> bool:
        return self.kind == "answer"

    def meta(self) -> dict[str, Any]:
        """The `cskh_meta` payload of docs/contracts.md (a "none" answer is 0 choices)."""
        return {
            "kind": "faq_answer" if self.confident else "faq_choices",
            "confident": self.confident,
            "articles": [a.to_json() for a in self.articles],
            "query": self.query,
        }


NO_ANSWER_TEXT = (
    "Dạ $em chưa tìm thấy thông tin phù hợp với câu hỏi này trong trung tâm trợ giúp của "
    "$shop ạ. $Kh có thể hỏi lại theo cách khác, hoặc bấm \"Gặp nhân viên\" để "
    "được tư vấn viên hỗ trợ trực tiếp."
)
CHOICES_TEXT = "Dạ $kh đang muốn hỏi về nội dung nào dưới đây ạ? $Kh chọn giúp $em nhé."


def _terms(text: str) -> set[str]:
    words = [t for t in tokens(text) if t not in _STOPWORDS]
    return set(words) | {f"{a}_{b}" for a, b in pairwise(words)}


def split_sentences(passage: str) -> list[str]:
    """Sentences and list items of a passage, in reading order, markdown emphasis removed."""
    out: list[str] = []
    for raw_line in passage.splitlines():
        line = _MARKDOWN.sub("", raw_line).strip()
        if not line or line.startswith("#"):
            continue
        if _LIST_ITEM.match(line):
            out.append(line)  # a list item is one unit: splitting "1. Bấm..." helps nobody
            continue
        out.extend(s.strip() for s in _SENTENCE_END.split(line) if s.strip())
    return out


def _units(sentences: Sequence[str]) -> list[list[int]]:
    """Sentences grouped into what may not be split: a run of list items is one unit, with
    the sentence that introduces it (ending with ":"); any other sentence is its own."""
    units: list[list[int]] = []
    for i, sentence in enumerate(sentences):
        item = bool(_LIST_ITEM.match(sentence))
        previous = units[-1] if units else None
        joins_list = previous is not None and _LIST_ITEM.match(sentences[previous[-1]])
        introduced = previous is not None and sentences[previous[-1]].endswith(":")
        if item and previous is not None and (joins_list or introduced):
            previous.append(i)
        else:
            units.append([i])
    return units


def extract_answer(query: str, passage: str, max_chars: int = 600) -> str:
    """The sentences of `passage` that answer `query`, in their original order.

    Sentences are scored by overlap with the query on folded, teencode-expanded terms (a
    bigram match counts double, it is much more specific). Whole units are kept greedily up
    to `max_chars`: a numbered or bulleted list is never cut in the middle (steps 1 to 4 or
    none), and comes with the sentence that introduces it; the best unit is always kept, even
    when it is longer (the platforms split long messages, a half list would mislead).
    """
    sentences = split_sentences(passage)
    if not sentences:
        return ""
    query_terms = _terms(query)

    def score(sentence: str) -> float:
        shared = query_terms & _terms(sentence)
        return sum(2.0 if "_" in t else 1.0 for t in shared)

    scores = [score(s) for s in sentences]
    units = _units(sentences)
    unit_scores = [max(scores[i] for i in unit) for unit in units]
    best = max(unit_scores)
    if best == 0:
        ranked = list(range(len(units)))  # nothing overlaps: the passage opening
    else:
        ranked = sorted(
            (u for u, sc in enumerate(unit_scores) if sc >= best * 0.5),
            key=lambda u: (-unit_scores[u], u),
        )
    keep: set[int] = set()
    used = 0
    for u in ranked:
        cost = sum(len(sentences[k]) + 1 for k in units[u])
        if keep and used + cost > max_chars:
            continue
        keep.update(units[u])
        used += cost
    text = "\n".join(sentences[i] for i in sorted(keep))
    if len(keep) == 1 and len(text) > max_chars:
        # One very long sentence (not a list): cut on a word boundary.
        text = text[: max_chars - 1].rsplit(" ", 1)[0] + "…"
    return text


def _distinct_articles(hits: Sequence[HitLike]) -> list[ArticleRef]:
    seen: dict[str, ArticleRef] = {}
    for hit in hits:  # hits come best first, so the first passage seen is the article's best
        if hit.article_id not in seen:
            seen[hit.article_id] = ArticleRef(hit.article_id, hit.title, hit.url, hit.score)
    return list(seen.values())


def format_answer(body: str, title: str, url: str) -> str:
    return f"{body}\n\nXem thêm: {title} – {url}"


def answer_question(
    kb: SearchesKnowledge, query: str, config: FaqConfig,
    known_vectors: Mapping[str, Any] | None = None,
) -> FaqAnswer:
    """Answer, offer choices, or admit there is nothing relevant.

    `known_vectors`: query vectors the hub already computed (cskh/query_vector.py).
    """
    query = query.strip()
    hits = list(kb.search(query, top_k=config.top_k, known_vectors=known_vectors)) if query else []
    relevant = [h for h in hits if h.score >= config.min_relevant_score]
    if not relevant:
        return FaqAnswer("none", NO_ANSWER_TEXT, query)
    articles = _distinct_articles(relevant)
    best = relevant[0]
    contested = len(articles) > 1 and articles[1].score >= best.score - config.ambiguity_margin
    bar = config.confident_score if has_diacritics(query) else config.confident_score_no_diacritics
    if best.score >= bar and not contested:
        body = extract_answer(query, best.text, config.max_answer_chars)
        return FaqAnswer(
            "answer", format_answer(body, best.title, best.url), query, [articles[0]]
        )
    return FaqAnswer("choices", CHOICES_TEXT, query, articles[: config.max_choices])


NOT_HELPFUL_TEXT = (
    "Dạ $em xin lỗi vì câu trả lời chưa đúng ý $kh. $Kh có thể hỏi lại theo cách "
    "khác, hoặc bấm \"Gặp nhân viên\" để được tư vấn viên hỗ trợ trực tiếp ạ."
)
NEXT_BEST_TEXT = (
    "Dạ $em xin lỗi vì câu trả lời chưa đúng ý $kh. Có thể $kh đang hỏi về một trong "
    "các nội dung dưới đây; nếu không phải, $kh hỏi lại theo cách khác hoặc bấm \"Gặp "
    "nhân viên\" để được tư vấn viên hỗ trợ trực tiếp ạ."
)


def next_best(
    kb: SearchesKnowledge, query: str, given: Collection[str], config: FaqConfig
) -> FaqAnswer:
    """After "Chưa giúp được": the next relevant articles for the same question, without the
    ones already given ("choices"), or, when there are none, the rephrase-or-a-person reply
    ("none"). Either way the customer gets a way forward, not a repeat."""
    query = query.strip()
    hits = list(kb.search(query, top_k=config.top_k)) if query else []
    others = [
        a for a in _distinct_articles([h for h in hits if h.score >= config.min_relevant_score])
        if a.id not in given
    ]
    if not others:
        return FaqAnswer("none", NOT_HELPFUL_TEXT, query)
    return FaqAnswer("choices", NEXT_BEST_TEXT, query, others[: config.max_choices])


def answer_article(
    kb: SearchesKnowledge, article_id: str, query: str, config: FaqConfig
) -> FaqAnswer:
    """Answer from the article the customer picked among the offered titles."""
    hits = list(kb.search_within(query.strip(), article_id, top_k=1))
    if not hits:
        return FaqAnswer("none", NO_ANSWER_TEXT, query)
    hit = hits[0]
    body = extract_answer(query, hit.text, config.max_answer_chars)
    ref = ArticleRef(hit.article_id, hit.title, hit.url, hit.score)
    return FaqAnswer("answer", format_answer(body, hit.title, hit.url), query, [ref])
