"""Content gaps: which help-center articles fail customers, and what the bot could not answer.

Read from the bot's stored replies (their `cskh_meta`, docs/contracts.md), the customers'
messages and the `handoffs` rows of a time window:

- per article: how often a confident FAQ answer named it, how often a hedged one was sent
  from it ("is this it?", other titles beside it), the "did this help?" verdicts given to
  either, and the handoffs that followed them;
- the customer questions the bot answered with `fallback`, with `faq_choices` offering no
  article or with a `weak` guess (a hedged answer from an article scoring where the bot
  used to say "nothing relevant"), grouped by wording (accent-folded word sets, Jaccard
  similarity).

Three statements whatever the window holds, each over a bounded primary-key range: the
report is read by a person on demand, but `created_at` has no index and the table grows
forever.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cskh.text import has_diacritics, normalize, tokens

from ..core.views import ArticleGap, ContentGaps, QuestionGroup
from .conversations import iso
from .models import Handoff, Message, utcnow
from .topics import answered_article

DEFAULT_DAYS = 30
MAX_DAYS = 365
SCAN_MESSAGES = 20_000
SCAN_HANDOFFS = 20_000
# A handoff counts against the last article answered if it came within this many customer
# messages of the answer: later ones are about something else the customer brought up.
HANDOFF_WITHIN_TURNS = 3
SIMILARITY = 0.5
MAX_VARIANTS = 5
MAX_QUESTION_CHARS = 300
# Words that frame a Vietnamese question or address the shop without saying what it is
# about. Left in, "có ... không ạ" alone makes "có bán sỉ không" and "có bán trả góp không"
# half alike. Folded forms that are also topic words stay out ("ban": bạn / bán, "the":
# thế / thẻ, "ha": hả / Hà Nội).
FRAME_WORDS = frozenset(
    """a ah ak co khong nhe nha nhi oi vay ne shop ad admin em anh chi minh toi cho hoi xin
    vui long giup gium voi duoc la gi""".split()
)
# Bot replies that close the previous answer: a handoff after one of them is not the
# earlier article's.
QUESTION_KINDS = frozenset({"faq_answer", "faq_choices", "fallback"})


def window_start(days: int, now: datetime | None = None) -> datetime:
    return (now or utcnow()) - timedelta(days=days)


def report(s: Session, days: int = DEFAULT_DAYS, now: datetime | None = None) -> ContentGaps:
    """The content gaps of the last `days` days (within the last SCAN_MESSAGES messages)."""
    since = window_start(days, now)
    last_message = select(func.max(Message.id)).scalar_subquery()
    rows = s.execute(
        select(
            Message.conversation_id,
            Message.role,
            Message.text,
            Message.meta,
            Message.created_at,
        )
        .where(
            Message.id > last_message - SCAN_MESSAGES,
            Message.created_at >= since,
            Message.role.in_(("user", "bot")),
        )
        .order_by(Message.id)
    ).all()
    # The window reaches past the scanned range when the message just below it is still in
    # the window: the report then says it is partial.
    boundary = s.scalar(
        select(Message.created_at)
        .where(Message.id <= last_message - SCAN_MESSAGES)
        .order_by(Message.id.desc())
        .limit(1)
    )
    last_handoff = select(func.max(Handoff.id)).scalar_subquery()
    handoffs = s.execute(
        select(Handoff.conversation_id, Handoff.queued_at).where(
            Handoff.id > last_handoff - SCAN_HANDOFFS, Handoff.queued_at >= since
        )
    ).all()

    turns: dict[str, list[Turn]] = defaultdict(list)
    for conversation_id, role, text, meta, created_at in rows:
        turns[conversation_id].append(Turn(role, text or "", meta, created_at))
    queued: dict[str, list[datetime]] = defaultdict(list)
    for conversation_id, queued_at in handoffs:
        if conversation_id in turns:
            queued[conversation_id].append(queued_at)

    tally = Tally()
    for conversation_id, conversation in turns.items():
        tally.read_conversation(conversation_id, conversation, sorted(queued[conversation_id]))
    return ContentGaps(
        days=days,
        since=iso(since) or "",
        scanned_messages=len(rows),
        partial=boundary is not None and boundary >= since,
        articles=tally.articles(),
        questions=group_questions(tally.unanswered),
    )


@dataclass(frozen=True)
class Turn:
    role: str
    text: str
    meta: Any
    created_at: datetime


@dataclass(frozen=True)
class Asked:
    """A customer question the bot had no article for."""

    text: str
    conversation_id: str
    at: datetime


@dataclass
class ArticleCounts:
    title: str
    url: str | None
    answers: int = 0
    hedged: int = 0
    helpful: int = 0
    not_helpful: int = 0
    handoffs: int = 0


@dataclass
class Tally:
    counts: dict[str, ArticleCounts] = field(default_factory=dict)
    unanswered: list[Asked] = field(default_factory=list)

    def read_conversation(
        self, conversation_id: str, conversation: Sequence[Turn], queued: Sequence[datetime]
    ) -> None:
        """One conversation's messages (oldest first) and handoff times, in time order."""
        # The article a "did this help?" verdict is about: the last answer, until the
        # customer asks something else or has given a verdict.
        awaiting_verdict: str | None = None
        # The last article answered and the customer messages since, for handoffs.
        last_answer: str | None = None
        turns_since = 0
        # The customer's typed message the bot's next reply answers (None after a button).
        question: Turn | None = None
        seen_customer = False
        pending = list(queued)
        for turn in conversation:
            while pending and pending[0] < turn.created_at:
                pending.pop(0)
                self._handoff(last_answer, turns_since)
            if turn.role == "user":
                seen_customer = True
                turns_since += 1
                if _pressed_button(turn):
                    question = None
                else:
                    question = turn
                    awaiting_verdict = None
                continue
            for item in _metas(turn.meta):
                kind = item.get("kind")
                if kind in QUESTION_KINDS:
                    awaiting_verdict = last_answer = None
                if kind == "faq_answer" and not item.get("weak"):
                    article = self._answered(item)
                    if article is not None:
                        awaiting_verdict = last_answer = article
                        turns_since = 0
                elif kind == "feedback" and isinstance(item.get("helpful"), bool):
                    if awaiting_verdict is not None:
                        counts = self.counts[awaiting_verdict]
                        if item["helpful"]:
                            counts.helpful += 1
                        else:
                            counts.not_helpful += 1
                        awaiting_verdict = None  # one verdict per answer: the first
                elif _unanswered(item):
                    text = question.text if question is not None else None
                    if text is None and not seen_customer:
                        # The question itself is older than the scanned range.
                        text = item.get("query") if isinstance(item.get("query"), str) else None
                    context = item.get("context")
                    if text and text.strip() and isinstance(context, str) and context.strip():
                        # A follow-up ("thế còn bạt?") means nothing to whoever writes the
                        # missing article without the question it followed.
                        text = f"{context.strip()} → {text.strip()}"
                    if text and text.strip():
                        self.unanswered.append(Asked(text, conversation_id, turn.created_at))
                if kind in QUESTION_KINDS:
                    question = None  # one reply, one question
        for _ in pending:
            self._handoff(last_answer, turns_since)

    def _handoff(self, article: str | None, turns_since: int) -> None:
        if article is not None and turns_since <= HANDOFF_WITHIN_TURNS:
            self.counts[article].handoffs += 1

    def _answered(self, item: dict[str, Any]) -> str | None:
        given = answered_article(item, hedged_too=True)
        if given is None:
            return None
        article_id, title, url = given
        title = title or article_id
        counts = self.counts.get(article_id)
        if counts is None:
            counts = self.counts[article_id] = ArticleCounts(title, url)
        else:
            # Messages come oldest first: the newest title and link win.
            counts.title, counts.url = title, url or counts.url
        if item.get("confident", True):
            counts.answers += 1
        else:
            counts.hedged += 1
        return article_id

    def articles(self) -> list[ArticleGap]:
        """Most in need of work first: verdicts against it plus handoffs after it, then the
        most answered."""
        rows = [
            ArticleGap(
                article_id=article_id,
                title=c.title,
                url=c.url,
                answers=c.answers,
                hedged_answers=c.hedged,
                helpful=c.helpful,
                not_helpful=c.not_helpful,
                handoffs_after=c.handoffs,
            )
            for article_id, c in self.counts.items()
        ]
        rows.sort(key=lambda a: (
            -(a.not_helpful + a.handoffs_after), -(a.answers + a.hedged_answers), a.title
        ))
        return rows


def _metas(meta: Any) -> list[dict[str, Any]]:
    items = meta.get("cskh_meta") if isinstance(meta, dict) else None
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []


def _pressed_button(turn: Turn) -> bool:
    # A button's payload ("/feedback_helpful", "/choose_article{...}") is not a question,
    # whether the channel stored it as the text (REST) or beside the title (meta).
    payload = turn.meta.get("payload") if isinstance(turn.meta, dict) else None
    return bool(payload) or turn.text.lstrip().startswith("/")


def _unanswered(item: dict[str, Any]) -> bool:
    kind = item.get("kind")
    return (
        kind == "fallback"
        or (kind == "faq_choices" and not item.get("articles"))
        or (kind == "faq_answer" and item.get("weak") is True)
    )


# ------------------------------------------------------------------ grouping questions
def words(text: str) -> frozenset[str]:
    """What a question is about, comparable across accents and teencode: its folded,
    teencode-expanded words without the question frame (all of them if nothing else)."""
    found = tokens(text)
    topical = frozenset(w for w in found if w not in FRAME_WORDS)
    return topical or frozenset(found)


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


def group_questions(
    asked: Iterable[Asked], threshold: float = SIMILARITY, max_variants: int = MAX_VARIANTS
) -> list[QuestionGroup]:
    """Greedy leader clustering: word sets in order of how often they were asked, each
    joining the most similar group leader at `threshold` or more, or leading a new group.
    Biggest groups first. Texts without any word (an emoji) are left out."""
    by_words: dict[frozenset[str], list[Asked]] = defaultdict(list)
    for a in asked:
        key = words(a.text)
        if key:
            by_words[key].append(a)
    order = sorted(by_words, key=lambda k: (-len(by_words[k]), -_latest(by_words[k]), sorted(k)))
    # Rarest words first: two sets this alike must share a word among the first few of
    # each (prefix filtering), so only leaders sharing one of those are compared and common
    # words ("hang", "don") do not make every leader a candidate.
    frequency = Counter(w for k in order for w in k)
    leaders: list[frozenset[str]] = []
    members: list[list[frozenset[str]]] = []
    index: dict[str, list[int]] = defaultdict(list)
    for key in order:
        prefix = _prefix(key, frequency, threshold)
        candidates = {g for w in prefix for g in index[w]}
        # The most alike leader; on a tie the older (bigger) group.
        best = max(candidates, key=lambda g: (jaccard(key, leaders[g]), -g), default=None)
        if best is None or jaccard(key, leaders[best]) < threshold:
            leaders.append(key)
            members.append([key])
            for w in prefix:
                index[w].append(len(leaders) - 1)
        else:
            members[best].append(key)
    groups = [_group([a for k in keys for a in by_words[k]], max_variants) for keys in members]
    groups.sort(key=lambda g: (-g.count, -g.conversations, g.example))
    return groups


def _prefix(key: frozenset[str], frequency: Counter[str], threshold: float) -> list[str]:
    ranked = sorted(key, key=lambda w: (frequency[w], w))
    # Jaccard >= t needs an overlap of at least ceil(t * |set|) words, so a match shares
    # one of the first |set| - ceil(t * |set|) + 1 words in the common order.
    keep = len(ranked) - math.ceil(threshold * len(ranked) - 1e-9) + 1
    return ranked[: max(1, keep)]


def _latest(asked: Sequence[Asked]) -> float:
    return max(a.at for a in asked).timestamp()


def _group(asked: Sequence[Asked], max_variants: int) -> QuestionGroup:
    # The same wording typed twice is one variant; shown as first typed, whitespace tidied.
    shown: dict[str, str] = {}
    counts: Counter[str] = Counter()
    for a in asked:
        key = normalize(a.text)
        shown.setdefault(key, " ".join(a.text.split())[:MAX_QUESTION_CHARS])
        counts[key] += 1
    # On a tie the wording typed with accents: it reads unambiguously to the shop.
    ranked = sorted(counts, key=lambda k: (-counts[k], not has_diacritics(k), k))
    return QuestionGroup(
        count=len(asked),
        conversations=len({a.conversation_id for a in asked}),
        example=shown[ranked[0]],
        variants=[shown[k] for k in ranked[1 : 1 + max_variants]],
        last_asked_at=iso(max(a.at for a in asked)) or "",
    )
