"""One escalation decision: should a person take over this conversation now, and why.

`decide(history, latest, profile, policy)` is a pure function of the conversation so far:
it does not call the sentiment model (the hub scores each message first and stores the
result in the turn's `"sentiment"`), does no I/O, and returns the same `Decision` for the
same input, so it can be unit-tested from tables and replayed on stored conversations.

Turns are mappings shaped like the transcript contract:
`{"role": "user"|"bot"|"agent", "text": str, "ts": ..., "meta"?: cskh_meta, "sentiment"?: ...}`.
`latest` is the newest customer turn; if the hub calls after Rasa answered it, the bot
turns (or bare cskh_meta dicts) of that answer may be given as `latest["replies"]`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from cskh.text import tokens, words
from triage.sentiment import Sentiment

Turn = Mapping[str, Any]

REASONS = ("angry", "repeated", "negative_trend", "requested", "bot_failed", "complex", "vip")
DEFAULT_POLICY_PATH = Path(__file__).resolve().parent / "escalation.yml"


# --------------------------------------------------------------------------------------------
# Matching folded phrases


class PhraseSet:
    """Folded phrases (or "re:" regexes) matched as whole words on a message's folded forms."""

    def __init__(self, phrases: Sequence[str]) -> None:
        self.phrases = tuple(phrases)
        plain = sorted({p.strip() for p in phrases if p.strip() and not p.startswith("re:")},
                       key=len, reverse=True)
        parts = [re.escape(p).replace(r"\ ", r"\s+") for p in plain]
        parts += [p[3:] for p in phrases if p.startswith("re:")]
        self.regex = (
            re.compile(rf"(?<![a-z0-9])(?:{'|'.join(parts)})(?![a-z0-9])") if parts else None
        )

    def find(self, forms: Sequence[str]) -> list[re.Match[str]]:
        if self.regex is None:
            return []
        for form in forms:
            hits = list(self.regex.finditer(form))
            if hits:
                return hits
        return []

    def matches(self, forms: Sequence[str]) -> bool:
        return bool(self.find(forms))


def text_forms(text: str) -> tuple[str, str]:
    """The folded text as typed and teencode-expanded: customers write both ways."""
    return " ".join(words(text)), " ".join(tokens(text))


# --------------------------------------------------------------------------------------------
# Policy


@dataclass(frozen=True)
class AngryRule:
    enabled: bool = True
    max_score: float = 0.0


@dataclass(frozen=True)
class TrendRule:
    window: int = 3
    min_negative: int = 3


@dataclass(frozen=True)
class RequestedRule:
    phrases: PhraseSet = field(default_factory=lambda: PhraseSet([]))
    negations: PhraseSet = field(default_factory=lambda: PhraseSet([]))
    meta_reasons: Mapping[str, str] = field(
        default_factory=lambda: {"requested": "requested", "complaint": "requested"}
    )
    # A message that reads positive with at least this score (see escalation.yml) is praise:
    # a bot "complaint" meta is not followed, and a bare mention of staff
    # (`mentions_of_staff`) is no request; above 1 both always count.
    praise_score: float = 0.5
    mentions_of_staff: PhraseSet = field(default_factory=lambda: PhraseSet([]))


@dataclass(frozen=True)
class BotFailedRule:
    weak_in_a_row: int = 2
    weak_kinds: frozenset[str] = frozenset({"faq_choices", "fallback"})
    answer_kinds: frozenset[str] = frozenset({"faq_answer", "faq_choices", "fallback",
                                              "order_status"})
    negative_feedback: bool = True
    # "Not helpful" this many times in a row (no "helpful" between): one "no" gets the bot's
    # offer to rephrase or to ask for a person; the second hands the chat over.
    negative_feedback_in_a_row: int = 2
    negative_feedback_texts: frozenset[str] = frozenset({"/feedback_not_helpful"})
    positive_feedback_texts: frozenset[str] = frozenset({"/feedback_helpful"})
    phrases: PhraseSet = field(default_factory=lambda: PhraseSet([]))


@dataclass(frozen=True)
class Topic:
    name: str
    any_of: PhraseSet
    all_of: tuple[PhraseSet, ...]
    # A message with one of these is not the topic whatever else it says: "nếu hàng giao tới
    # bị vỡ thì sao?" asks about the policy, it reports nothing.
    unless: PhraseSet = field(default_factory=lambda: PhraseSet([]))
    # The queue priority of "complex" when only topics of lower urgency matched (None: the
    # policy's `priority.complex`): a dented box needs a person, not before a lawsuit.
    priority: int | None = None

    def matches(self, forms: Sequence[str]) -> bool:
        if self.unless.matches(forms):
            return False
        if self.any_of.matches(forms):
            return True
        return bool(self.all_of) and all(group.matches(forms) for group in self.all_of)


@dataclass(frozen=True)
class ComplexRule:
    topics: tuple[Topic, ...] = ()
    issues: Mapping[str, PhraseSet] = field(default_factory=dict)
    min_issues: int = 3
    min_issues_if_negative: int = 2


@dataclass(frozen=True)
class RepeatRule:
    """A customer who has to repeat themselves: says so ("tôi nói rồi mà", "lần thứ 3"),
    or sends again, after the bot answered, what they already wrote."""

    phrases: PhraseSet = field(default_factory=lambda: PhraseSet([]))
    # Word overlap (Jaccard, folded words) at which a message repeats an earlier one.
    min_similarity: float = 0.7
    min_words: int = 3
    # Only the customer's last few messages count: the same question asked again much
    # later in a long chat is a new need, not a failed answer.
    window: int = 2


@dataclass(frozen=True)
class VipRule:
    profile_flags: tuple[str, ...] = ("vip", "is_vip")
    tiers: frozenset[str] = frozenset({"vip"})
    escalate_on: str = "negative"  # always | negative | never
    priority_boost: int = 1


@dataclass(frozen=True)
class Policy:
    """The typed form of `triage/escalation.yml`."""

    angry: AngryRule
    negative_trend: TrendRule
    requested: RequestedRule
    bot_failed: BotFailedRule
    complex: ComplexRule
    vip: VipRule
    priority: Mapping[str, int]
    repeated: RepeatRule
    replies: Mapping[str, str]
    replies_out_of_hours: Mapping[str, str]
    # Small talk to a message whose polarity is at most this is replaced by empathy even when
    # the model's label is not negative (escalation.yml `small_talk`).
    small_talk_max_score: float = -0.5

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> Policy:
        a, t = raw.get("angry", {}), raw.get("negative_trend", {})
        r, b = raw.get("requested", {}), raw.get("bot_failed", {})
        c, v = raw.get("complex", {}), raw.get("vip", {})
        escalate_on = str(v.get("escalate_on", "negative"))
        if escalate_on not in ("always", "negative", "never"):
            raise ValueError(f"vip.escalate_on must be always|negative|never, not {escalate_on}")
        topics = tuple(
            Topic(
                name=name,
                any_of=PhraseSet(spec.get("any", [])),
                all_of=tuple(PhraseSet(group) for group in spec.get("all", [])),
                unless=PhraseSet(spec.get("unless", [])),
                priority=int(spec["priority"]) if spec.get("priority") is not None else None,
            )
            for name, spec in (c.get("topics") or {}).items()
        )
        unknown = set(raw.get("priority", {})) - set(REASONS)
        if unknown:
            raise ValueError(f"unknown reasons in priority: {sorted(unknown)}")
        return cls(
            angry=AngryRule(bool(a.get("enabled", True)), float(a.get("max_score", 0.0))),
            negative_trend=TrendRule(int(t.get("window", 3)), int(t.get("min_negative", 3))),
            requested=RequestedRule(
                PhraseSet(r.get("phrases", [])),
                PhraseSet(r.get("negations", [])),
                _meta_reasons(r.get("meta_reasons")),
                float(r.get("praise_score", 0.5)),
                PhraseSet(r.get("mentions_of_staff", [])),
            ),
            bot_failed=BotFailedRule(
                weak_in_a_row=int(b.get("weak_in_a_row", 2)),
                weak_kinds=frozenset(b.get("weak_kinds", ["faq_choices", "fallback"])),
                answer_kinds=frozenset(
                    b.get("answer_kinds", ["faq_answer", "faq_choices", "fallback",
                                           "order_status"])
                ),
                negative_feedback=bool(b.get("negative_feedback", True)),
                negative_feedback_in_a_row=int(b.get("negative_feedback_in_a_row", 2)),
                positive_feedback_texts=frozenset(
                    b.get("positive_feedback_texts", ["/feedback_helpful"])
                ),
                negative_feedback_texts=frozenset(
                    b.get("negative_feedback_texts", ["/feedback_not_helpful"])
                ),
                phrases=PhraseSet(b.get("phrases", [])),
            ),
            complex=ComplexRule(
                topics=topics,
                issues={k: PhraseSet(vs) for k, vs in (c.get("issues") or {}).items()},
                min_issues=int(c.get("min_issues", 3)),
                min_issues_if_negative=int(c.get("min_issues_if_negative", 2)),
            ),
            vip=VipRule(
                profile_flags=tuple(v.get("profile_flags", ["vip", "is_vip"])),
                tiers=frozenset(str(x).lower() for x in v.get("tiers", ["vip"])),
                escalate_on=escalate_on,
                priority_boost=int(v.get("priority_boost", 1)),
            ),
            priority={k: int(val) for k, val in (raw.get("priority") or {}).items()},
            repeated=RepeatRule(
                phrases=PhraseSet(raw.get("repeated", {}).get("phrases", [])),
                min_similarity=float(raw.get("repeated", {}).get("min_similarity", 0.7)),
                min_words=int(raw.get("repeated", {}).get("min_words", 3)),
                window=int(raw.get("repeated", {}).get("window", 2)),
            ),
            replies=_one_line_each(raw.get("replies")),
            replies_out_of_hours=_one_line_each(raw.get("replies_out_of_hours")),
            small_talk_max_score=float(
                (raw.get("small_talk") or {}).get("max_score", cls.small_talk_max_score)
            ),
        )


def _one_line_each(texts: Mapping[str, Any] | None) -> dict[str, str]:
    """YAML's folded replies with their line breaks and double spaces collapsed."""
    return {k: " ".join(str(val).split()) for k, val in (texts or {}).items()}


def _meta_reasons(raw: Any) -> dict[str, str]:
    if raw is None:
        return {"requested": "requested", "complaint": "requested"}
    if isinstance(raw, list):  # a plain list: every listed meta reason means "requested"
        return {str(r): "requested" for r in raw}
    mapping = {str(k): str(v) for k, v in dict(raw).items()}
    bad = set(mapping.values()) - set(REASONS)
    if bad:
        raise ValueError(f"requested.meta_reasons maps to unknown reasons {sorted(bad)}")
    return mapping


def load_policy(path: Path | str | None = None) -> Policy:
    """The packaged policy (`triage/escalation.yml`, read once), or a deployment's file.

    A deployment's file only needs what it changes: it is merged over the packaged
    defaults (mappings merged key by key, lists and values replaced).
    """
    if path is None:
        return _default_policy()
    override = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    return Policy.from_dict(_merge(_default_raw(), override))


def _merge(base: Any, override: Any) -> Any:
    if isinstance(base, Mapping) and isinstance(override, Mapping):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = _merge(base.get(key), value) if key in base else value
        return merged
    return override


def _default_raw() -> dict[str, Any]:
    return yaml.safe_load(DEFAULT_POLICY_PATH.read_text(encoding="utf-8")) or {}


@lru_cache(maxsize=1)
def _default_policy() -> Policy:
    return Policy.from_dict(_default_raw())


# --------------------------------------------------------------------------------------------
# Decision


@dataclass(frozen=True)
class Decision:
    """`priority`: 0 when not escalating, else higher = more urgent (from the policy).
    `reasons`: most urgent first. `reply`: what the bot tells the customer at handover; when
    not escalating, what it says instead of the bot's own reply: its announcement of a
    handover that is not followed (praise the NLU read as a complaint), or small talk to a
    negative message; else None. `reply_out_of_hours`: the handover reply when nobody is at
    work, which promises no one "in a moment" (None: the hub's own)."""

    escalate: bool
    reasons: list[str]
    priority: int
    reply: str | None
    reply_out_of_hours: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"escalate": self.escalate, "reasons": list(self.reasons),
                "priority": self.priority, "reply": self.reply,
                "reply_out_of_hours": self.reply_out_of_hours}


def _role(turn: Turn) -> str:
    return str(turn.get("role", ""))


def _meta(turn: Turn) -> Mapping[str, Any] | None:
    """A bot turn's cskh_meta, whether stored bare or wrapped as {"cskh_meta": {...}}."""
    meta = turn.get("meta")
    if meta is None and "kind" in turn:
        meta = turn  # a bare cskh_meta given in latest["replies"]
    if isinstance(meta, Mapping) and isinstance(meta.get("cskh_meta"), Mapping):
        meta = meta["cskh_meta"]
    return meta if isinstance(meta, Mapping) else None


def _since_last_agent(history: Sequence[Turn]) -> Sequence[Turn]:
    # After an agent handled the chat the slate is clean: old anger or old bot failures
    # must not send the next, calm question straight back to the queue.
    for i in range(len(history) - 1, -1, -1):
        if _role(history[i]) == "agent":
            return history[i + 1 :]
    return history


def _sentiment(turn: Turn) -> Sentiment | None:
    return Sentiment.from_value(turn.get("sentiment"))


def _is_negative(turn: Turn) -> bool:
    s = _sentiment(turn)
    return s is not None and (s.label == "negative" or s.angry)


def is_vip(profile: Mapping[str, Any] | None, rule: VipRule) -> bool:
    if not profile:
        return False
    if any(bool(profile.get(flag)) for flag in rule.profile_flags):
        return True
    return str(profile.get("tier", "")).lower() in rule.tiers


def _said_unrefused(text: str, phrases: PhraseSet, negations: PhraseSet) -> bool:
    """One of `phrases` is in the text, not preceded by a refusal ("khong can gap nv")."""
    for form in text_forms(text):
        for match in phrases.find([form]):
            before = form[: match.start()].split()[-3:]
            if not negations.matches([" ".join(before)]):
                return True
    return False


def complex_topics(text: str, rule: ComplexRule, negative: bool) -> list[str]:
    """Names of the complex topics in a message (incl. "multiple_issues")."""
    forms = text_forms(text)
    found = [topic.name for topic in rule.topics if topic.matches(forms)]
    issues = [name for name, phrases in rule.issues.items() if phrases.matches(forms)]
    needed = rule.min_issues_if_negative if negative else rule.min_issues
    if len(issues) >= needed:
        found.append("multiple_issues")
    return found


def _not_helpful_in_a_row(recent: Sequence[Turn], latest: Turn, rule: BotFailedRule) -> int:
    """How many "not helpful" answers in a row the customer gave, the latest included: by
    their button payloads, or by the bot's feedback metas where payloads are not kept."""
    said = 0
    for turn in reversed([t for t in recent if _role(t) == "user"]):
        text = str(turn.get("text", "")).strip()
        if text in rule.negative_feedback_texts:
            said += 1
        elif text in rule.positive_feedback_texts:
            break
    metas = [m for m in map(_meta, [*recent, *(latest.get("replies") or [])]) if m]
    told = 0
    for meta in reversed([m for m in metas if m.get("kind") == "feedback"]):
        if meta.get("helpful") is not False:
            break
        told += 1
    return max(said, told)


def _bot_failed(recent: Sequence[Turn], latest: Turn, rule: BotFailedRule) -> bool:
    text = str(latest.get("text", ""))
    if rule.negative_feedback:
        latest_no = text.strip() in rule.negative_feedback_texts
        history = [*recent, latest] if latest_no else list(recent)
        if _not_helpful_in_a_row(history, latest, rule) >= rule.negative_feedback_in_a_row:
            return True
    if rule.phrases.matches(text_forms(text)):
        return True
    bot_turns = [t for t in recent if _role(t) == "bot"] + list(latest.get("replies") or [])
    metas = [m for m in map(_meta, bot_turns) if m is not None]
    streak = 0
    for meta in reversed([m for m in metas if m.get("kind") in rule.answer_kinds]):
        # A hedged answer (faq_answer, confident false) is an answer with "is this it?" and
        # the other titles beside it: "Chưa giúp được" or asking again is the failure signal.
        # A hedged answer marked `weak` (its article scored below the action server's
        # weak_score, where it used to say "not found") is weak too.
        if meta.get("kind") not in rule.weak_kinds and meta.get("weak") is not True:
            break
        streak += 1
    return streak >= rule.weak_in_a_row


def _words(text: str) -> set[str]:
    return set(text_forms(text)[0].split())


def _repeated(
    recent: Sequence[Turn], latest: Turn, rule: RepeatRule, answer_kinds: frozenset[str]
) -> bool:
    """The customer had to repeat themselves (see RepeatRule); only after an earlier
    exchange in this stretch of the conversation. Sending a question again counts only when
    the bot really answered it in between (not when it was down: that is a retry)."""
    earlier = [t for t in recent if _role(t) == "user"]
    if not earlier:
        return False
    text = str(latest.get("text", ""))
    if rule.phrases.matches(text_forms(text)):
        return True
    words = _words(text)
    if len(words) < rule.min_words or str(text).startswith("/"):
        return False
    # The same words again after the bot replied: the answer did not help.
    users = [i for i, t in enumerate(recent) if _role(t) == "user"][-max(rule.window, 1):]
    for i in users:
        turn = recent[i]
        answered = any(
            _role(t) == "bot" and str((_meta(t) or {}).get("kind")) in answer_kinds
            for t in recent[i + 1:]
        )
        before = _words(str(turn.get("text", "")))
        if answered and before and len(words & before) / len(words | before) >= (
            rule.min_similarity
        ):
            return True
    return False


def _meta_request(
    recent: Sequence[Turn], latest: Turn, rule: RequestedRule
) -> tuple[str, str] | None:
    """The escalation reason a bot `handoff_request` meta asks for, and the meta's own reason
    ("complaint"), if any.

    Looks at the bot's reading of this message (`latest["replies"]`) and at the bot turns
    after the last customer turn (the hub may not have acted on them yet).
    """
    candidates = list(latest.get("replies") or [])
    for turn in reversed(recent):
        if _role(turn) == "user":
            break
        candidates.append(turn)
    for turn in candidates:
        meta = _meta(turn)
        if meta and meta.get("kind") == "handoff_request":
            asked = str(meta.get("reason") or "requested")
            reason = rule.meta_reasons.get(asked)
            if reason:
                return reason, asked
    return None


def _small_talk_only(latest: Turn) -> bool:
    """The bot's reading of this message (`latest["replies"]`) is small talk and nothing
    else: a greeting, thanks, "vâng", "em hiểu rồi"."""
    metas = [m for m in map(_meta, latest.get("replies") or []) if m]
    return bool(metas) and all(m.get("kind") == "small_talk" for m in metas)


def decide(
    history: Sequence[Turn],
    latest: Turn,
    profile: Mapping[str, Any] | None = None,
    policy: Policy | None = None,
) -> Decision:
    """Should a person take over now? Reasons are recorded so the decision can be audited."""
    policy = policy or load_policy()
    recent = _since_last_agent(history)
    text = str(latest.get("text", ""))
    sentiment = _sentiment(latest)
    latest_negative = _is_negative(latest)
    reasons: list[str] = []

    if (policy.angry.enabled and sentiment is not None and sentiment.angry
            and sentiment.score <= policy.angry.max_score):
        reasons.append("angry")

    trend = policy.negative_trend
    if latest_negative and trend.min_negative > 0:
        earlier = [t for t in recent if _role(t) == "user"]
        window = [*earlier[len(earlier) - max(trend.window - 1, 0):], latest]
        if sum(_is_negative(t) for t in window) >= trend.min_negative:
            reasons.append("negative_trend")

    if _repeated(recent, latest, policy.repeated, policy.bot_failed.answer_kinds):
        reasons.append("repeated")

    requested = policy.requested
    praise = (sentiment is not None and sentiment.label == "positive" and not sentiment.angry
              and sentiment.score >= requested.praise_score)
    asks = _said_unrefused(text, requested.phrases, requested.negations)
    # "nhân viên tư vấn" asks for one; "nhân viên tư vấn nhiệt tình" praises one.
    names_staff_only = not asks and _said_unrefused(
        text, requested.mentions_of_staff, requested.negations
    )
    if asks or (names_staff_only and not praise):
        reasons.append("requested")
    meta_request = _meta_request(recent, latest, requested)
    overruled = meta_request is not None and praise and (
        meta_request[1] == "complaint" or names_staff_only
    )
    if overruled:
        # Praise the NLU read as a complaint, or as asking for the staff it praises.
        meta_request = None
    if meta_request and meta_request[0] not in reasons:
        reasons.append(meta_request[0])

    if _bot_failed(recent, latest, policy.bot_failed):
        reasons.append("bot_failed")

    levels = dict(policy.priority)
    topics = complex_topics(text, policy.complex, latest_negative)
    if topics:
        reasons.append("complex")
        # "multiple_issues" and topics without their own priority take the policy's.
        own = {t.name: t.priority for t in policy.complex.topics if t.priority is not None}
        levels["complex"] = max(own.get(name, levels.get("complex", 1)) for name in topics)

    vip = is_vip(profile, policy.vip)
    rule = policy.vip
    if vip and (
        reasons  # a VIP escalating for any reason is flagged (and prioritised) as such
        or rule.escalate_on == "always"
        or (rule.escalate_on == "negative" and latest_negative)
    ):
        reasons.append("vip")

    if not reasons:
        if overruled:
            # The bot announced a handover that does not happen: it thanks instead.
            return Decision(False, [], 0, policy.replies.get("praise"))
        leans_negative = sentiment is not None and sentiment.score <= policy.small_talk_max_score
        if (latest_negative or leans_negative) and _small_talk_only(latest):
            # "lần sau chắc không mua nữa" read as "no": not "Dạ em hiểu rồi ạ"; "giao hàng
            # nhanh ghê, 2 tuần mới tới 🙂" read as thanks: not "cảm ơn anh/chị".
            return Decision(False, [], 0, policy.replies.get("negative_small_talk"))
        return Decision(False, [], 0, None)
    # Most urgent first (stable for equal priority: the order of REASONS), no repeats.
    reasons = list(dict.fromkeys(reasons))
    reasons.sort(key=lambda r: (-levels.get(r, 1), REASONS.index(r)))
    priority = max(levels.get(r, 1) for r in reasons)
    if vip:
        priority += policy.vip.priority_boost
    said_for = reasons[0]
    if meta_request and meta_request[0] == said_for and meta_request[1] in policy.replies:
        # A complaint the bot recognised is recorded as a request, but "$kh muốn trao đổi
        # trực tiếp với nhân viên" is not what the customer said: it gets its own words.
        said_for = meta_request[1]
    reply = policy.replies.get(said_for) or policy.replies.get("default")
    closed = policy.replies_out_of_hours
    return Decision(
        True, reasons, priority, reply, closed.get(said_for) or closed.get("default")
    )
