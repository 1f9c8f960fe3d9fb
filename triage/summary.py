"""The summary an agent reads when claiming a conversation, so the customer never repeats.

Built only from what the system already knows: the customer's own key sentences, facts
(order code, phone, e-mail, products, amounts, dates), intents and bot outcomes from `cskh_meta`,
the sentiment trajectory, the reasons for handoff, channel and waiting time. At most ~8
short Vietnamese lines; deterministic (same transcript, same summary).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cskh.text import tokens
from triage.facts import DEFAULT_PRODUCTS, Facts, extract_facts
from triage.sentiment import Sentiment, SentimentModel

Turn = Mapping[str, Any]

REASON_LABELS = {
    "angry": "khách đang rất bức xúc",
    "negative_trend": "khách không hài lòng nhiều lần liên tiếp",
    "requested": "khách yêu cầu gặp nhân viên",
    "bot_failed": "bot không giải quyết được",
    "repeated": "khách phải nhắc lại nhiều lần",
    "complex": (
        "vấn đề phức tạp (hàng giao sai/thiếu/hỏng, hoàn tiền, tranh chấp, pháp lý, nhiều vấn đề)"
    ),
    "vip": "khách VIP",
}
SENTIMENT_LABELS = {
    "positive": "tích cực", "neutral": "trung tính", "negative": "tiêu cực", "angry": "giận dữ",
}
CHANNEL_LABELS = {"web": "Web chat", "messenger": "Facebook Messenger", "zalo": "Zalo OA"}
INTENT_LABELS = {
    "ask_faq": "hỏi đáp", "order_status": "tra cứu đơn hàng",
    "request_human": "yêu cầu gặp nhân viên", "complain": "khiếu nại",
    "out_of_scope": "ngoài phạm vi", "bot_challenge": "hỏi có phải bot",
    "product_question": "hỏi về sản phẩm (giá, còn hàng, tư vấn)",
    "choose_article": "chọn bài viết", "feedback_not_helpful": "báo câu trả lời không hữu ích",
}
# Intents that say nothing about the problem; left out of the summary.
_NOISE_INTENTS = {"greet", "goodbye", "thank", "affirm", "deny", "feedback_helpful"}
# Bot meta kinds that reveal what the customer wanted.
_META_INTENTS = {
    "faq_answer": "ask_faq", "faq_choices": "ask_faq", "order_status": "order_status",
    "handoff_request": "request_human", "product_question": "product_question",
}
_SMALL_TALK = {
    "chao", "xin", "shop", "ad", "admin", "oi", "a", "ạ", "ok", "oke", "cam", "on", "vang",
    "da", "u", "uh", "um", "roi", "nhe", "nha", "hi", "hello", "alo", "em", "anh", "chi",
    "minh", "ban", "khong", "co", "duoc",
}
MAX_QUOTE = 140


@dataclass
class Summary:
    text: str
    reasons: list[str]
    facts: dict[str, list[Any]]
    sentiment: dict[str, Any] = field(default_factory=dict)
    # One line for a queue card: what the customer came about, in their words (the first key
    # turn), so three chats that end in "cho tôi gặp nhân viên" can be told apart.
    issue: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "reasons": list(self.reasons), "facts": self.facts,
                "sentiment": self.sentiment, "issue": self.issue}


ISSUE_CHARS = 90


def _meta(turn: Turn) -> Mapping[str, Any] | None:
    meta = turn.get("meta")
    if isinstance(meta, Mapping) and isinstance(meta.get("cskh_meta"), Mapping):
        meta = meta["cskh_meta"]
    return meta if isinstance(meta, Mapping) else None


def _is_payload(text: str) -> bool:
    return text.strip().startswith("/")


def _substantive(text: str) -> bool:
    """More than a greeting, an "ok" or a thank-you: worth quoting to the agent."""
    toks = tokens(text)
    return not _is_payload(text) and len([t for t in toks if t not in _SMALL_TALK]) >= 2


def trim(text: str, limit: int = MAX_QUOTE) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(",.;:!?") + "…"


def format_vnd(amount: int) -> str:
    return f"{amount:,}".replace(",", ".") + "đ"


def format_wait(seconds: float) -> str:
    s = max(round(seconds), 0)
    hours, rest = divmod(s, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} giờ {minutes} phút"
    if minutes:
        return f"{minutes} phút {secs} giây" if secs else f"{minutes} phút"
    return f"{secs} giây"


def _sentiments(users: Sequence[Turn], model: SentimentModel | None) -> list[Sentiment | None]:
    found = [Sentiment.from_value(t.get("sentiment")) for t in users]
    missing = [i for i, s in enumerate(found) if s is None and not _is_payload(_text(users[i]))]
    if model is not None and missing:
        predicted = model.predict([_text(users[i]) for i in missing])
        for i, s in zip(missing, predicted, strict=True):
            found[i] = s
    return found


def _text(turn: Turn) -> str:
    return str(turn.get("text") or "")


def key_turns(users: Sequence[Turn], sentiments: Sequence[Sentiment | None],
              limit: int = 3) -> list[str]:
    """The customer's issue in their own words: first substantive, most negative, longest."""
    candidates = [i for i, t in enumerate(users) if _substantive(_text(t))]
    if not candidates:
        candidates = [i for i, t in enumerate(users) if _text(t).strip() and
                      not _is_payload(_text(t))]
    if not candidates:
        return []

    def score(i: int) -> float:
        s = sentiments[i]
        return 0.0 if s is None else s.score - (1.0 if s.angry else 0.0)

    picks = [
        candidates[0],
        min(candidates, key=lambda i: (score(i), i)),
        max(candidates, key=lambda i: (len(_text(users[i])), -i)),
    ]
    chosen: list[int] = []
    seen: set[str] = set()
    for i in picks:
        key = " ".join(tokens(_text(users[i])))
        # Skip repeats: the same complaint sent twice, or a turn contained in another pick.
        if i in chosen or key in seen or any(key in s or s in key for s in seen):
            continue
        chosen.append(i)
        seen.add(key)
        if len(chosen) == limit:
            break
    return [trim(_text(users[i])) for i in sorted(chosen)]


def _intents(transcript: Sequence[Turn]) -> list[str]:
    seen: dict[str, None] = {}
    for turn in transcript:
        meta = _meta(turn) or {}
        intent = turn.get("intent") or meta.get("intent")
        if isinstance(intent, Mapping):
            intent = intent.get("name")
        if turn.get("role") == "bot":
            intent = _META_INTENTS.get(str(meta.get("kind")), intent)
            if meta.get("kind") == "handoff_request" and meta.get("reason") == "complaint":
                intent = "complain"
            if meta.get("kind") == "feedback" and meta.get("helpful") is False:
                intent = "feedback_not_helpful"
        if intent and intent not in _NOISE_INTENTS:
            seen.setdefault(str(intent), None)
    return list(seen)


def _articles(transcript: Sequence[Turn]) -> list[str]:
    """Articles the bot offered, each with whether it helped (from the feedback metas)."""
    offers: list[list[str]] = []  # [title, outcome]
    last_answer: list[list[str]] = []
    for turn in transcript:
        meta = _meta(turn)
        if turn.get("role") != "bot" or not meta:
            continue
        kind = meta.get("kind")
        if kind in ("faq_answer", "faq_choices"):
            arts = [a for a in meta.get("articles") or [] if isinstance(a, Mapping)]
            if kind == "faq_answer":
                arts = arts[:1]  # the answer shown; the rest were runners-up
            last_answer = []
            for art in arts:
                title = str(art.get("title") or art.get("id") or "?")
                outcome = "chưa phản hồi" if kind == "faq_answer" else "gợi ý, độ tin cậy thấp"
                existing = next((o for o in offers if o[0] == title), None)
                if existing is None:
                    existing = [title, outcome]
                    offers.append(existing)
                elif kind == "faq_answer":
                    existing[1] = outcome
                last_answer.append(existing)
        elif kind == "feedback" and last_answer:
            outcome = "có ích" if meta.get("helpful") else "không giúp được"
            for offer in last_answer:
                offer[1] = outcome
    return [f"«{title}» ({outcome})" for title, outcome in offers]


def _issue(users: Sequence[Turn], sentiments: Sequence[Sentiment | None]) -> str:
    """What the customer came about, in one line: their most upset substantive turn if any
    (the reason a person is needed), else their first substantive one."""
    candidates = [i for i, t in enumerate(users) if _substantive(_text(t))]
    if not candidates:
        return ""
    upset = [(s.score - (1.0 if s.angry else 0.0), i) for i in candidates
             if (s := sentiments[i]) is not None and (s.angry or s.label == "negative")]
    pick = min(upset)[1] if upset else candidates[0]
    issue = " ".join(_text(users[pick]).split())
    if len(issue) > ISSUE_CHARS:
        issue = issue[: ISSUE_CHARS - 1].rstrip() + "…"
    return issue


def _trajectory(categories: Sequence[str]) -> list[str]:
    out: list[str] = []
    for c in categories:
        if not out or out[-1] != c:
            out.append(c)
    return out


def summarize(
    transcript: Sequence[Turn],
    reasons: Sequence[str],
    channel: str | None = None,
    waited_seconds: float | None = None,
    *,
    model: SentimentModel | None = None,
    products: Sequence[str] = DEFAULT_PRODUCTS,
) -> Summary:
    """Build the handoff summary. Turns without `"sentiment"` are scored by `model` if given."""
    users = [t for t in transcript if t.get("role") == "user"]
    sentiments = _sentiments(users, model)

    facts = Facts()
    for turn in users:
        if not _is_payload(_text(turn)):
            facts = facts.merge(extract_facts(_text(turn), products))
    # The bot's look-up found the order past its expected day: the agent reads it first.
    late: dict[str, int] = {}
    for turn in transcript:
        meta = _meta(turn) or {}
        if meta.get("kind") == "order_status" and meta.get("order_code"):
            code = str(meta["order_code"]).upper()
            facts = facts.merge(Facts(order_codes=[code]))
            if meta.get("late_days"):
                late[code] = int(meta["late_days"])

    categories = [s.category for s in sentiments if s is not None]
    trajectory = _trajectory(categories)
    latest = next((s for s in reversed(sentiments) if s is not None), None)

    lines: list[str] = []
    quotes = key_turns(users, sentiments)
    if quotes:
        lines.append("Khách nói: " + " / ".join(f"«{q}»" for q in quotes))
    fact_parts = []
    if facts.order_codes:
        fact_parts.append("mã đơn " + ", ".join(
            f"{c} (trễ {late[c]} ngày so với dự kiến)" if c in late else c
            for c in facts.order_codes
        ))
    if facts.phones:
        fact_parts.append("SĐT " + ", ".join(facts.phones))
    if facts.emails:
        fact_parts.append("email " + ", ".join(facts.emails))
    if facts.products:
        fact_parts.append("sản phẩm: " + ", ".join(facts.products))
    if facts.amounts:
        fact_parts.append("số tiền: " + ", ".join(format_vnd(a) for a in facts.amounts))
    if facts.dates:
        fact_parts.append("ngày: " + ", ".join(facts.dates))
    if facts.payment_methods:
        fact_parts.append("thanh toán: " + ", ".join(facts.payment_methods))
    if fact_parts:
        lines.append("Thông tin: " + " · ".join(fact_parts))
    intents = _intents(transcript)
    if intents:
        lines.append("Ý định: " + ", ".join(INTENT_LABELS.get(i, i) for i in intents))
    if trajectory:
        shown = trajectory if len(trajectory) <= 6 else [trajectory[0], "…", *trajectory[-4:]]
        lines.append("Cảm xúc: " + " → ".join(SENTIMENT_LABELS.get(c, c) for c in shown))
    articles = _articles(transcript)
    if articles:
        lines.append("Bot đã gợi ý: " + "; ".join(articles[:4]))
    if reasons:
        lines.append("Lý do chuyển: " + "; ".join(REASON_LABELS.get(r, r) for r in reasons))
    tail = []
    if channel:
        tail.append("Kênh: " + CHANNEL_LABELS.get(channel, channel))
    if waited_seconds is not None:
        tail.append("đã chờ " + format_wait(waited_seconds))
    if tail:
        lines.append(" · ".join(tail))
    if not lines:
        lines.append("Khách chưa nêu vấn đề cụ thể.")

    issue = _issue(users, sentiments)
    return Summary(
        issue=issue,
        text="\n".join(lines),
        reasons=list(reasons),
        facts=facts.to_dict(),
        sentiment={
            "trajectory": trajectory,
            "latest": latest.to_dict() if latest else None,
            "counts": {c: categories.count(c) for c in SENTIMENT_LABELS if c in categories},
        },
    )


def parse_ts(value: Any) -> float | None:
    """Epoch seconds (or ms) / ISO-8601 -> epoch seconds; None if absent or unreadable."""
    from datetime import datetime

    if value is None or value == "":
        return None
    if isinstance(value, int | float):
        return float(value) / (1000.0 if value > 1e11 else 1.0)
    text = str(value).strip()
    if re.fullmatch(r"\d+(\.\d+)?", text):
        return parse_ts(float(text))
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None
