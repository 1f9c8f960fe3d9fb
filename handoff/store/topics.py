"""The help-center articles the bot has recently given as answers, most asked first.

The widget offers them as suggested topics in an empty chat. The bot's answers are stored as
messages whose `cskh_meta` (docs/contracts.md) names the article: `{"kind": "faq_answer",
"confident": true, "articles": [{"id", "title", ...}]}`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Text, cast, func, select
from sqlalchemy.orm import Session

from .models import Message, utcnow

# Only the last messages are read: the route is public, and a bounded primary-key range stays
# cheap however large the table grows (created_at has no index).
SCAN_MESSAGES = 5000
WINDOW_DAYS = 30
# Below this many conversations an article's count is noise (one customer asking twice, a
# test): such articles give way to the configured defaults.
MIN_CONVERSATIONS = 3
MAX_TOPICS = 4


@dataclass(frozen=True)
class Topic:
    title: str
    article_id: str | None = None


@dataclass(frozen=True)
class AnsweredArticle:
    article_id: str
    title: str
    conversations: int


def answered_articles(
    s: Session, since: datetime, scan: int = SCAN_MESSAGES
) -> list[AnsweredArticle]:
    """Articles given as confident answers since `since` within the last `scan` messages,
    by how many conversations got them (most first; ties: the most recently given)."""
    last_id = s.scalar(select(func.max(Message.id)))
    if last_id is None:
        return []
    rows = s.execute(
        select(Message.id, Message.conversation_id, Message.meta)
        .where(
            Message.id > last_id - scan,
            Message.role == "bot",
            Message.created_at >= since,
            # A cheap pre-filter on the JSON text (portable across SQLite and PostgreSQL);
            # the payload itself is checked below.
            cast(Message.meta, Text).like("%faq_answer%"),
        )
        .order_by(Message.id.desc())
    ).all()
    askers: dict[str, set[str]] = {}
    titles: dict[str, str] = {}
    latest: dict[str, int] = {}
    for message_id, conversation_id, meta in rows:
        for article_id, title in _answered(meta):
            askers.setdefault(article_id, set()).add(conversation_id)
            titles.setdefault(article_id, title)  # rows come newest first: current title
            latest.setdefault(article_id, message_id)
    ranked = sorted(askers, key=lambda a: (-len(askers[a]), -latest[a]))
    return [AnsweredArticle(a, titles[a], len(askers[a])) for a in ranked]


def suggested(
    s: Session,
    defaults: Sequence[str],
    limit: int = MAX_TOPICS,
    now: datetime | None = None,
    min_conversations: int = MIN_CONVERSATIONS,
) -> list[Topic]:
    """Up to `limit` topics: the most answered articles with enough askers, then the
    configured default titles to fill the rest."""
    since = (now or utcnow()) - timedelta(days=WINDOW_DAYS)
    topics: list[Topic] = [
        Topic(a.title, a.article_id)
        for a in answered_articles(s, since)
        if a.conversations >= min_conversations
    ][:limit]
    shown = {t.title.casefold() for t in topics}
    for title in defaults:
        if len(topics) >= limit:
            break
        if title.strip() and title.strip().casefold() not in shown:
            topics.append(Topic(title.strip()))
            shown.add(title.strip().casefold())
    return topics


def answered_article(
    item: Any, *, hedged_too: bool = False
) -> tuple[str, str | None, str | None] | None:
    """(article id, title, http(s) link) of the article a confident FAQ answer gave, from one
    `cskh_meta` item; None for any other item. Title and link are None when missing.
    `hedged_too`: also the article a hedged answer ("is this it?") was sent from."""
    if not isinstance(item, dict) or item.get("kind") != "faq_answer":
        return None
    if not hedged_too and not item.get("confident", True):
        return None
    articles = item.get("articles") or []
    first = articles[0] if isinstance(articles, list) and articles else None
    if not isinstance(first, dict):
        return None
    article_id, title, url = first.get("id"), first.get("title"), first.get("url")
    if not isinstance(article_id, str) or not article_id.strip():
        return None
    title = title.strip() if isinstance(title, str) and title.strip() else None
    url = url if isinstance(url, str) and url.startswith(("https://", "http://")) else None
    return article_id, title, url


def _answered(meta: Any) -> list[tuple[str, str]]:
    """(article id, title) of each confident FAQ answer a stored bot message carries."""
    if not isinstance(meta, dict):
        return []
    found = (answered_article(item) for item in meta.get("cskh_meta") or [])
    return [(a[0], a[1]) for a in found if a is not None and a[1] is not None]
