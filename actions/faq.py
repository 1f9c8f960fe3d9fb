"""Answering a help-center question from the knowledge base (plain logic, no Rasa import).

Decision, on the best hits of `KnowledgeBase.search`:
- strong best hit and no close competitor from another article -> answer with the sentences of
  that passage that address the question, plus "Xem thêm: <title> – <url>" (confident);
- a relevant best hit that is not sure enough, or another article scoring about the same ->
  the same answer from the best passage, asking "is this it?" with the runner-up articles
  offered as buttons next to it (hedged): the customer reads the likely answer at once
  instead of a bare list of titles to click through, and one click away is the alternative;
- hits between `min_relevant_score` and `hedge_score` (none by default) -> up to 3 titles;
- nothing relevant -> say so honestly and offer a person.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any, Literal, Protocol

from cskh.text import asks_what_about, fold, has_diacritics, tokens

# Folded function words: matching on them would make every sentence look relevant.
_STOPWORDS = frozenset(
    """a ah ak anh ban bi cac cai cho chi co cua da dang de di do duoc em gi gium giup ha hay
    hoi khi khong la lam len luc ma minh mot nao ne neu nha nhe nhi nhu nhung o oi roi sao se
    shop thi the toi tu va vay vao ve voi vui xin cam on admin ad""".split()
)
# Question words ("bao lâu", "số nào", "ở đâu", "mấy"): the answer says "7 ngày", not "bao
# lâu"; a sentence sharing them ("trong bài") is no closer to answering. What they ask for
# is scored separately (`_ASKS`).
_QUESTION_WORDS = frozenset("bao lau nhieu trong dau may kieu bn".split())
# "làm sao giờ", "giờ phải làm sao", "thế nào vậy shop": the whole message asks "what now?"
# about nothing the help center could be searched for ("làm sao giờ" was answered,
# confidently, with the support hours: "giờ" is also "hours"). With nothing asked just
# before, the bot asks what it is about instead. A pattern, not a list of empty words:
# folded, "bán vé máy bay" is "ban ve may bay", all of them also function words.
_FILLER = r"(?:thi|the|vay|gio|bay gio|roi|ua|oi|shop|ad|a|ah|z|v|h|gi|day|ha|nhi|nha|nhe|di)"
_WHAT_NOW = re.compile(
    rf"^(?:{_FILLER} )*(?:phai |nen )?(?:lam sao|lam gi|lam the nao|sao|the nao|ra sao"
    rf"|tinh sao|xu ly sao|xu ly the nao)(?: {_FILLER}| (?:duoc|dc|khong|ko|k|nua|tiep))*$"
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
    def section(self) -> str: ...

    @property
    def text(self) -> str: ...

    @property
    def score(self) -> float: ...

    @property
    def score_as_restored(self) -> float: ...


class SearchesKnowledge(Protocol):
    """The part of `knowledge_base.search.KnowledgeBase` the FAQ logic needs."""

    def search(
        self, query: str, top_k: int = 5, *, known_vectors: Mapping[str, Any] | None = None,
        context: str | None = None,
    ) -> Sequence[HitLike]: ...

    def search_within(
        self, query: str, article_id: str, top_k: int = 1, context: str | None = None
    ) -> Sequence[HitLike]: ...


@dataclass(frozen=True)
class FaqConfig:
    confident_score: float = 0.55
    # Queries typed without diacritics scored lower on the dense side for the same match
    # quality and had a lower bar (0.45) until the search started putting their marks back
    # (cskh/diacritics.py, 2026-12-06); since then they score like marked ones, and the same
    # bar keeps confident answers right on our 198 questions (cskh eval kb: 0.981 at 0.45,
    # 0.990 at 0.50, 1.000 at 0.55; facts unchanged). bot/MEASUREMENTS.md has the history.
    confident_score_no_diacritics: float = 0.55
    # Below this nothing is relevant: "not found, rephrase or ask for a person". Not a
    # chit-chat filter (Rasa's intents are: "bạn tên gì" scores 0.73, "cảm ơn" 0.70): 0.40
    # until 2026-12-01 left 28 of our 240 questions unanswered although the right article
    # was first for 20 of them. 0.30, chosen on our two sets (cskh eval kb, facts in the
    # first reply: 0.40 -> 0.712, 0.34 -> 0.788, 0.30 -> 0.793, 0.25 -> 0.798 on the 198),
    # keeps out what shares no word with any article ("ừ" 0.30, "cho hỏi chút" 0.30).
    min_relevant_score: float = 0.30
    # Another article within this margin of the best -> not confident (hedged). 0.02 until
    # the hedged answer existed; with it a contested answer still carries its facts, and 0.06
    # is the smallest margin that keeps confident answers right >= 0.97 on our two question
    # sets together (cskh eval kb: 108 of 110; 0.04: 118 of 122).
    ambiguity_margin: float = 0.06
    # Below the confident bar (or contested) but at least this: answer from the best passage
    # and offer the runner-ups beside it (hedged); between min_relevant_score and this, a list
    # of titles only. Equal by default: on our own question sets a hedged answer's article was
    # right 0.81 of the time, and the customer reads it at once instead of clicking a title.
    hedge_score: float = 0.30
    # A hedged answer from an article scoring below this is a weak match, marked `weak` in
    # its cskh_meta: the bot answered "nothing relevant" there until 2026-12-01, and such
    # answers still count as the bot failing (two in a row hand the chat to a person) and
    # as a question the help center has no article for (content gaps). Uncovered questions
    # score 0.38-0.49 ("cho thuê lều cắm trại" 0.38), so it does not tell them all apart.
    weak_score: float = 0.40
    # Another section of the best article this close to the best hit is sent too (see
    # `_answer_body`).
    section_margin: float = 0.03
    # The same for a hedged answer (unsure of the passage, alternatives beside it), where a
    # longer reply costs less than a wrong one. Chosen on our long set (cskh eval kb, facts in
    # the first reply 0.859 at 0.03, 0.869 at 0.05, 0.874 at 0.08 and at 0.12) and checked on
    # the frozen telco set (0.841 -> 0.857); answers' p95 length 1192 -> 1246 characters.
    hedged_section_margin: float = 0.08
    # A hedged answer with no second section of its article sends the best passage of the
    # runner-up article too when it scores within this of the best: the search cannot tell
    # the two apart, and the customer reads both instead of guessing which button holds the
    # answer. Chosen on the airline development set and our own (cskh eval kb, facts in the
    # first reply: 0.02 -> airline 0.865, ours 0.929; 0.04 -> 0.872, 0.929, short 0.952;
    # 0.06 -> 0.872, 0.934 with longer replies; none: 0.850, 0.924, 0.929).
    hedged_article_margin: float = 0.04
    # Rasa's out_of_scope is still answered from the help center when the answer is confident
    # and its best passage scores at least this: "shop ơi mình chuyển khoản nhầm nội dung
    # rồi" (0.77, the section on transfers with the wrong content) was called out of scope,
    # a dead end. Above every out_of_scope training line's best score (0.66, "phim nao hay";
    # 6 of the 69 clear the confident bar) and every held-out one's.
    out_of_scope_score: float = 0.70
    # A message sent within this many seconds of a help-center answer may follow it up
    # ("bao lâu vậy?"): it is searched with the question before (`answer_question`).
    follow_up_seconds: float = 1800.0
    max_answer_chars: int = 600
    max_choices: int = 3
    max_alternatives: int = 2
    # After "Chưa giúp được", other sections of the article just answered offered beside the
    # next articles (`next_best`): the search often finds the right article and a
    # neighbouring section of it.
    max_other_sections: int = 2
    top_k: int = 8


def passages_of_meta(meta: Mapping[str, Any]) -> list[tuple[str, str]]:
    """`FaqAnswer.passages` read back from the `cskh_meta` its `meta()` wrote (a stored
    conversation keeps only that)."""
    if meta.get("kind") != "faq_answer" or not meta.get("articles"):
        return []
    article = str(meta["articles"][0].get("id"))
    first = [(article, str(section)) for section in meta.get("sections") or []]
    return first + [(str(b.get("id")), str(b.get("section")))
                    for b in meta.get("borrowed") or [] if isinstance(b, dict)]


@dataclass(frozen=True)
class ArticleRef:
    id: str
    title: str
    url: str
    score: float
    # One section of the article ("Thời hạn bảo hành theo nhóm sản phẩm"), when what is
    # offered is that section rather than the article's best one for the question.
    section: str = ""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id, "title": self.title, "url": self.url, "score": round(self.score, 4)
        }
        if self.section:
            out["section"] = self.section
        return out


@dataclass(frozen=True)
class FaqAnswer:
    kind: AnswerKind
    text: str
    query: str
    # "answer": the article answered from, then the alternatives offered beside a hedged answer
    articles: list[ArticleRef] = field(default_factory=list)
    # An answer sent although the search is not sure: it asks "is this it?" and offers the
    # alternatives (when there are any) beside it.
    hedged: bool = False
    # Hedged from an article scoring below `FaqConfig.weak_score`: a guess, not an answer.
    weak: bool = False
    # The question before, when this one was searched as its follow-up ("" otherwise).
    context: str = ""
    # The sections of the first article the text was taken from (its opening is "").
    sections: tuple[str, ...] = ()
    # A passage of another article sent after them, as (article id, section): a hedged
    # answer whose runner-up article scored as high (`FaqConfig.hedged_article_margin`).
    borrowed: tuple[tuple[str, str], ...] = ()

    @property
    def alternatives(self) -> list[ArticleRef]:
        """Articles offered as buttons next to a hedged answer (empty when confident)."""
        return self.articles[1:] if self.kind == "answer" else []

    @property
    def confident(self) -> bool:
        """Sent as the answer, with no "is this it?" and no choice list beside it."""
        return self.kind == "answer" and not self.hedged

    @property
    def passages(self) -> list[tuple[str, str]]:
        """The passages the text was taken from, as (article id, section; "" for the
        opening): what a follow-up's `answer_question(shown=...)` takes."""
        if self.kind != "answer" or not self.articles:
            return []
        first = [(self.articles[0].id, section) for section in self.sections]
        return first + list(self.borrowed)

    def meta(self) -> dict[str, Any]:
        """The `cskh_meta` payload of docs/contracts.md (a "none" answer is 0 choices)."""
        meta: dict[str, Any] = {
            "kind": "faq_answer" if self.kind == "answer" else "faq_choices",
            "confident": self.confident,
            "articles": [a.to_json() for a in self.articles],
            "query": self.query,
        }
        if self.weak:
            meta["weak"] = True
        if self.context:
            meta["context"] = self.context
        if self.sections:
            meta["sections"] = list(self.sections)
        if self.borrowed:
            meta["borrowed"] = [{"id": a, "section": sec} for a, sec in self.borrowed]
        return meta


NO_ANSWER_TEXT = (
    "Dạ $em chưa tìm thấy thông tin phù hợp với câu hỏi này trong trung tâm trợ giúp của "
    "$shop ạ. $Kh có thể hỏi lại theo cách khác, hoặc bấm \"Gặp nhân viên\" để "
    "được tư vấn viên hỗ trợ trực tiếp."
)
CHOICES_TEXT = "Dạ $kh đang muốn hỏi về nội dung nào dưới đây ạ? $Kh chọn giúp $em nhé."
HEDGED_FOLLOW_UP_TEXT = "Thông tin trên có đúng điều $kh cần không ạ?"
HEDGED_ALTERNATIVES_TEXT = (
    "Thông tin trên có đúng điều $kh cần không ạ? Nếu $kh đang hỏi về nội dung khác, "
    "$kh chọn bên dưới giúp $em nhé."
)


# What kind of fact a question asks for, read from its (folded, teencode-expanded) words,
# and what a sentence carrying that kind of fact looks like (on its folded text). "bao lâu"
# wants a duration, "bao nhiêu"/"phí" an amount, "số nào"/"hotline" a number to call or
# text, "ở đâu" a place, "làm sao"/"cách" the steps. A sentence that overlaps the
# question's words but not its kind ("đổi trả ... bạn chịu phí" for "đổi trả trong bao
# lâu") is the wrong sentence to send.
_ASKS: tuple[tuple[str, re.Pattern[str], re.Pattern[str]], ...] = (
    (
        "duration",
        re.compile(r"\b(bao lau|bao gio|khi nao|may ngay|may gio|may tieng|may phut|may thang"
                   r"|may tuan|may nam|thoi gian|thoi han|han|trong bao|luc nao|den khi)\b"),
        re.compile(r"\d+\s*(?:[–-]\s*\d+\s*)?(?:ngay|gio|tieng|phut|tuan|thang|nam|h)\b"
                   r"|\b(?:ngay|tuc thi|trong ngay)\b|\d{1,2}:\d{2}"),
    ),
    (
        "amount",
        re.compile(r"\b(bao nhieu|nhieu tien|may tien|gia|phi|ton|mat tien|tinh tien|muc|toi da"
                   r"|toi thieu|bn|nhieu)\b"),
        re.compile(r"\d[\d.,]*\s*(?:d|k|dong|nghin|trieu|ty|vnd|%)(?![a-z])"
                   r"|\d[\d.,]*\s*(?:lan|diem|san pham|ma|don)\b|mien phi"),
    ),
    (
        "contact",
        re.compile(r"\b(so nao|so may|hotline|tong dai|goi so|nhan tin|sdt|so dien thoai"
                   r"|lien he|dau so|cu phap|soan)\b"),
        re.compile(r"\*\d+#|\b\d{4}\s?\d{3,4}\b|\b\d{3,5}\b|zalo|email|@"),
    ),
    (
        "place",
        re.compile(r"\b(o dau|cho nao|dia chi|noi nao|tai dau|gui ve dau|den dau)\b"),
        re.compile(r"\b(?:so \d+|duong|quan|phuong|tinh|thanh pho|tp|dia chi|showroom"
                   r"|trung tam|cai dat|muc|tai khoan|trang|ung dung|app|website)\b"),
    ),
)
# Asking how to do something: the steps (a list) answer it.
_ASKS_HOW = re.compile(r"\b(lam sao|lam the nao|the nao|cach|nhu nao|ra sao|cac buoc|kieu gi"
                       r"|huong dan|lam gi|thu tuc|quy trinh)\b")
# Weight of a sentence matching the kind of fact asked, against one shared content word.
_ASK_BONUS = 3.0


def _asks(query_words: str) -> list[re.Pattern[str]]:
    """The fact shapes a question (its `tokens` joined by spaces) asks for; empty when it has
    no such cue."""
    return [shape for _, cue, shape in _ASKS if cue.search(query_words)]


def names_no_topic(query: str) -> bool:
    """True when the whole message asks "what now?" about nothing named ("làm sao giờ",
    "giờ phải làm sao", "thế nào vậy shop", "ủa rồi sao")."""
    return bool(_WHAT_NOW.match(" ".join(tokens(query))))


def _terms(text: str, also_skip: frozenset[str] = frozenset()) -> set[str]:
    words = [t for t in tokens(text) if t not in _STOPWORDS and t not in also_skip]
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


def _scored_units(query: str, sentences: Sequence[str]) -> tuple[list[list[int]], list[float]]:
    """The units of a passage's sentences (see `_units`) and how well each answers the query:
    shared words (a bigram counts double, it is much more specific), plus a bonus for
    carrying the kind of fact asked (a duration for "bao lâu"...) or the steps for "làm sao"."""
    query_terms = _terms(query, _QUESTION_WORDS)
    query_words = " ".join(tokens(query))
    shapes = _asks(query_words)
    wants_steps = bool(_ASKS_HOW.search(query_words))

    def score(sentence: str) -> float:
        shared = query_terms & _terms(sentence)
        value = sum(2.0 if "_" in t else 1.0 for t in shared)
        folded = fold(sentence)
        if any(shape.search(folded) for shape in shapes):
            value += _ASK_BONUS
        if wants_steps and _LIST_ITEM.match(sentence):
            value += _ASK_BONUS
        return value

    scores = [score(s) for s in sentences]
    units = _units(sentences)
    return units, [max(scores[i] for i in unit) for unit in units]


def extract_answer(query: str, passage: str, max_chars: int = 600) -> str:
    """The sentences of `passage` that answer `query`, in their original order (all of them
    when the passage fits in `max_chars`).

    Sentences are scored by overlap with the query on folded, teencode-expanded terms (a
    bigram match counts double, it is much more specific). Whole units are kept greedily up
    to `max_chars`: a numbered or bulleted list is never cut in the middle (steps 1 to 4 or
    none), and comes with the sentence that introduces it; the best unit is always kept, even
    when it is longer (the platforms split long messages, a half list would mislead).
    """
    sentences = split_sentences(passage)
    if sum(len(sentence) + 1 for sentence in sentences) <= max_chars:
        # It fits: trimming a short section only risks dropping the sentence that answers.
        return "\n".join(sentences)
    units, unit_scores = _scored_units(query, sentences)
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


def _is_opening(hit: HitLike) -> bool:
    """The text before an article's first heading (its section is the title): it says what
    the article covers ("Bài viết này hướng dẫn..."), rarely the answer itself."""
    return hit.section == hit.title


def _under_heading(
    query: str, hit: HitLike, config: FaqConfig, other_article: bool = False
) -> str:
    # Each section as it would be sent alone: halving the budget cut the very sentence that
    # answers ("trong 7 ngày" heads a list) out of sections that fit whole.
    body = extract_answer(query, hit.text, config.max_answer_chars)
    if other_article:
        # The link under the reply is the first article's: this one says where it is from.
        heading = f"{hit.title} – {hit.section}" if hit.section else hit.title
        return f"{heading}:\n{body}"
    return body if _is_opening(hit) or not hit.section else f"{hit.section}:\n{body}"


# More than any article has sections: `search_within` then scores them all.
_ANY_ARTICLE_SECTIONS = 50


def _passage_key(hit: HitLike) -> tuple[str, str]:
    return hit.article_id, "" if _is_opening(hit) else hit.section


def _answer_body(
    kb: SearchesKnowledge, query: str, hits: Sequence[HitLike], config: FaqConfig,
    context: str | None = None, hedged: bool = False,
    shown: Collection[tuple[str, str]] = (),
) -> tuple[str, tuple[str, ...], tuple[tuple[str, str], ...]]:
    """The answer from the best passage and, when another section of the same article scores
    within `section_margin` (`hedged_section_margin` for a hedged answer) of it, from that
    section too, under its own heading.

    Sections of one article share its title and most of its words, so the search often
    ranks a neighbour of the right section first by a hair (section-level recall@1 is well
    below article-level); sending both is a longer reply that does hold the answer.

    When the best passage is the article's opening, which matches a short question on
    every word ("bị trừ tiền 2 lần") and says only what the article covers, the article's
    best section follows it whatever its score: the opening alone answered nothing.

    `shown`: the passages (article id, section; "" for the opening) of the answer just before,
    when this question follows it up. A follow-up searched with that question ranks what was
    just sent high again ("ống đồng tính tiền sao" after the free-installation section): when
    it would be sent together with another passage that the message alone prefers, only that
    one is sent (never an article's opening alone, which answers nothing); the customer has
    the first on screen. Not for "còn X thì sao?", which asks the same question again, nor
    when the message alone still prefers what was sent ("mất phí ship không" after the
    defect-returns section: its answer is there).

    A hedged answer with no second section of its article sends the best section of the
    runner-up article too, under that article's title, when it scores within
    `hedged_article_margin`: "Khoang Thương Gia có bao nhiêu ghế" is the seat types' prices or
    the business class's description by 0.002 (an airline's help center). Preferring that
    article over a second section of the best one, when it scores higher, cost our own set 4
    answers' facts: sections of one article are more often the right neighbour.

    Also returns the sections of the best article sent ("" for the opening) and the
    (article id, section) of the other article's passage, if one was sent."""
    best = hits[0]
    sent: tuple[HitLike, ...] = (best,)
    if _is_opening(best):
        candidates = [h for h in hits[1:] if h.article_id == best.article_id]
        if not any(not _is_opening(h) for h in candidates):
            candidates = list(kb.search_within(query, best.article_id, top_k=3, context=context))
        section = next((h for h in candidates if not _is_opening(h)), None)
        if section is not None:
            sent = (best, section)
    else:
        margin = config.hedged_section_margin if hedged else config.section_margin
        runner_up = next(
            (h for h in hits[1:] if h.article_id == best.article_id
             and h.section != best.section and h.score >= best.score - margin),
            None,
        )
        if runner_up is not None:
            sent = (best, runner_up)
        elif hedged and config.hedged_article_margin > 0:
            other = next((h for h in hits[1:] if h.article_id != best.article_id), None)
            if (other is not None and not _is_opening(other)
                    and other.score >= best.score - config.hedged_article_margin):
                sent = (best, other)
    if (len(sent) == 2 and context and not asks_what_about(query) and not _is_opening(sent[1])
            and _passage_key(sent[0]) in shown and _passage_key(sent[1]) not in shown):
        alone = {_passage_key(h): h.score
                 for h in kb.search_within(query, best.article_id, top_k=_ANY_ARTICLE_SECTIONS)}
        if alone.get(_passage_key(sent[1]), 0.0) > alone.get(_passage_key(sent[0]), 0.0):
            sent = (sent[1],)
    sections = tuple(
        "" if _is_opening(h) else h.section for h in sent if h.article_id == best.article_id
    )
    borrowed = tuple((h.article_id, h.section) for h in sent if h.article_id != best.article_id)
    if len(sent) == 1:
        return extract_answer(query, sent[0].text, config.max_answer_chars), sections, borrowed
    body = "\n\n".join(
        _under_heading(query, h, config, other_article=h.article_id != best.article_id)
        for h in sent
    )
    return body, sections, borrowed


def answer_question(
    kb: SearchesKnowledge, query: str, config: FaqConfig,
    known_vectors: Mapping[str, Any] | None = None,
    context: str | None = None,
    shown: Collection[tuple[str, str]] = (),
) -> FaqAnswer:
    """Answer, offer choices, or admit there is nothing relevant.

    `known_vectors`: query vectors the hub already computed (cskh/query_vector.py).
    `context`: the question the customer asked just before (the action server's
    `_follow_up_context` finds it in the conversation); the search then also counts how well
    a passage answers it, so "bao lâu vậy?" after a question about warranties finds the
    warranty periods. `shown`: what the answer to that question sent (`_answer_body`).
    """
    query = query.strip()
    context = (context or "").strip()
    hits = list(
        kb.search(query, top_k=config.top_k, known_vectors=known_vectors, context=context or None)
    ) if query else []
    relevant = [h for h in hits if h.score >= config.min_relevant_score]
    if not relevant:
        return FaqAnswer("none", NO_ANSWER_TEXT, query, context=context)
    bar = config.confident_score if has_diacritics(query) else config.confident_score_no_diacritics
    # A message typed without marks is read two ways; the answer is confident only if it
    # still clears the bar once the words are read as the search restored them: "doi hang
    # duoc ko shop" matched "đổi hạng" (membership tiers) by its folded words alone. Such a
    # hit does not lead the hedged answer either: the passages are taken in the order of the
    # restored reading, so the returns article is offered beside it instead of dropping out.
    matched_another_spelling = relevant[0].score >= bar > relevant[0].score_as_restored
    if matched_another_spelling:
        relevant.sort(key=lambda h: -h.score_as_restored)
    articles = _distinct_articles(relevant)
    best = relevant[0]
    contested = len(articles) > 1 and articles[1].score >= best.score - config.ambiguity_margin
    confident = best.score_as_restored >= bar and not contested and not matched_another_spelling
    if not confident and best.score < config.hedge_score:
        return FaqAnswer(
            "choices", CHOICES_TEXT, query, articles[: config.max_choices], context=context
        )
    body, sections, borrowed = _answer_body(kb, query, relevant, config, context or None,
                                            hedged=not confident, shown=shown)
    body = format_answer(body, best.title, best.url)
    if confident:
        return FaqAnswer(
            "answer", body, query, [articles[0]], context=context, sections=sections
        )
    return FaqAnswer(
        "answer", body, query, articles[: 1 + config.max_alternatives], hedged=True,
        weak=best.score < config.weak_score, context=context, sections=sections,
        borrowed=borrowed,
    )


def answers_out_of_scope(answer: FaqAnswer, config: FaqConfig) -> bool:
    """Whether a message the NLU called out of scope gets `answer` rather than "out of
    scope": only a confident answer whose best passage clears `out_of_scope_score`."""
    return answer.confident and answer.articles[0].score >= config.out_of_scope_score


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
    kb: SearchesKnowledge, query: str, given: Collection[str], config: FaqConfig,
    context: str | None = None, answered: str | None = None, sent: Collection[str] = (),
) -> FaqAnswer:
    """After "Chưa giúp được": the next relevant articles for the same question (searched as
    it was, with its `context`), without the ones already given, and the other sections of
    the article `answered` whose `sent` sections did not help ("choices", best first); or,
    when there are none, the rephrase-or-a-person reply ("none"). Either way the customer
    gets a way forward, not a repeat.

    The other sections matter because the search finds the right article far more often
    than the right section ("bảo hành mấy tháng" answered with how long a repair takes):
    offering the article again would answer from the same section."""
    query = query.strip()
    hits = list(kb.search(query, top_k=config.top_k, context=context or None)) if query else []
    offers = [
        a for a in _distinct_articles([h for h in hits if h.score >= config.min_relevant_score])
        if a.id not in given
    ]
    if answered and query and config.max_other_sections > 0:
        within = list(
            kb.search_within(query, answered, top_k=config.top_k, context=context or None)
        )
        if not sent:
            within = within[1:]  # an answer from before sections were recorded: its best
        sections = [
            ArticleRef(h.article_id, h.title, h.url, h.score, section=h.section)
            for h in within
            if h.score >= config.min_relevant_score and h.section and not _is_opening(h)
            and h.section not in sent
        ]
        offers += sections[: config.max_other_sections]
    if not offers:
        return FaqAnswer("none", NOT_HELPFUL_TEXT, query)
    offers.sort(key=lambda a: -a.score)
    return FaqAnswer("choices", NEXT_BEST_TEXT, query, offers[: config.max_choices])


def answer_article(
    kb: SearchesKnowledge, article_id: str, query: str, config: FaqConfig,
    context: str | None = None, section: str | None = None,
) -> FaqAnswer:
    """Answer from the article the customer picked among the offered titles (for the
    question they typed, with its `context` when it was a follow-up); from its `section`
    when a section was offered and picked."""
    context = (context or "").strip() or None
    # Every section when one was picked (an article has a dozen at most), else the best 3.
    hits = list(kb.search_within(query.strip(), article_id, top_k=100 if section else 3,
                                 context=context))
    if section:
        picked = [h for h in hits if h.section == section]
        hits = hits[:3]
        if picked:
            hit = picked[0]
            body = _under_heading(query.strip(), hit, config)
            ref = ArticleRef(hit.article_id, hit.title, hit.url, hit.score, section=hit.section)
            return FaqAnswer(
                "answer", format_answer(body, hit.title, hit.url), query, [ref],
                sections=(hit.section,),
            )
    if not hits:
        return FaqAnswer("none", NO_ANSWER_TEXT, query)
    hit = hits[0]
    body, sections, _ = _answer_body(kb, query.strip(), hits, config, context)
    ref = ArticleRef(hit.article_id, hit.title, hit.url, hit.score)
    return FaqAnswer(
        "answer", format_answer(body, hit.title, hit.url), query, [ref], sections=sections
    )
