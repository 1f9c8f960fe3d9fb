"""Held-out evaluation of a sentiment model (`cskh eval sentiment`).

The numbers that matter for the product, not just accuracy: angry recall (an angry
customer left with the bot is the failure this feature exists to prevent) and false
escalations (a calm customer sent to the human queue costs an agent's time).

Two held-out sets:
- the TEST split of the labelled data (`triage/data/sentiment*.jsonl`);
- the help-center questions of the retrieval evaluation
  (`knowledge_base/eval/questions.jsonl`): real-style customer questions, none of them angry,
  written for another purpose and kept out of the sentiment training data. They measure
  what the test split cannot: how often an ordinary question (teencode, no diacritics,
  a calmly mentioned problem) is flagged angry, escalated at once and answered "em hiểu
  anh/chị đang rất bực mình".

And the frozen sets (`triage/data/FROZEN_SETS.md`), written on 2026-11-30 from a brief of
kinds, before any tuning, and only ever measured: single messages (per label, per kind, and
the hub's escalation decision on each) and multi-turn conversations (does the hub's decision,
replayed turn by turn, hand the ones that need a person to a person, and only those?).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cskh.jsonl import read_jsonl
from cskh.paths import REPO_ROOT
from triage.escalation import Policy, decide, load_policy
from triage.sentiment import (
    CLASSES,
    DATA_DIR,
    DEFAULT_DATA_PATHS,
    LABELS,
    DataSource,
    Sentiment,
    SentimentModel,
    data_paths,
    load_dataset,
)

TARGETS = {"angry_recall": 0.95, "false_escalation": 0.03, "macro_f1_4": 0.85}
QUESTIONS_PATH = REPO_ROOT / "knowledge_base" / "eval" / "questions.jsonl"
# Help-center questions are neutral messages from a second, independently written set, so the
# same false-escalation budget applies; each one flagged angry is escalated at once.
QUESTIONS_TARGET_ANGRY = TARGETS["false_escalation"]


@dataclass
class EvalResult:
    n: int
    macro_f1_4: float
    macro_f1_3: float
    per_class_f1: dict[str, float]
    angry_recall: float
    angry_precision: float
    false_escalation: float  # neutral predicted negative or angry
    false_angry: float  # neutral predicted angry
    confusion: list[list[int]]  # rows: true CLASSES, cols: predicted CLASSES
    p50_ms: float
    p95_ms: float
    errors: list[tuple[str, str, str]]  # (true, predicted, text)

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n, "macro_f1_4": self.macro_f1_4, "macro_f1_3": self.macro_f1_3,
            "per_class_f1": self.per_class_f1, "angry_recall": self.angry_recall,
            "angry_precision": self.angry_precision,
            "false_escalation": self.false_escalation, "false_angry": self.false_angry,
            "confusion": {"labels": list(CLASSES), "matrix": self.confusion},
            "p50_ms": self.p50_ms, "p95_ms": self.p95_ms,
            "targets": TARGETS, "meets_targets": self.meets_targets(),
        }

    def meets_targets(self) -> bool:
        return (
            self.angry_recall >= TARGETS["angry_recall"]
            and self.false_escalation <= TARGETS["false_escalation"]
            and self.macro_f1_4 >= TARGETS["macro_f1_4"]
        )


def predict_each(
    model: SentimentModel, texts: Sequence[str], *, warmup: bool = True
) -> tuple[list[Sentiment], list[float]]:
    """Score each message on its own (as the hub does); the milliseconds each one took."""
    if warmup and texts:
        # The first call loads the engine, not a per-message cost. Not texts[0]: the e5
        # encoder remembers recent texts, which would make that message look free.
        model.predict(["xin chào, cho mình hỏi chút"])
    sentiments: list[Sentiment] = []
    times: list[float] = []
    for text in texts:
        started = time.perf_counter()
        sentiments.append(model.predict([text])[0])
        times.append((time.perf_counter() - started) * 1000)
    return sentiments, times


def evaluate(
    model: SentimentModel, texts: Sequence[str], truth: Sequence[str], *, warmup: bool = True
) -> EvalResult:
    """Score each message on its own (as the hub does) and time it."""
    sentiments, times = predict_each(model, texts, warmup=warmup)
    return score_predictions(texts, truth, [s.category for s in sentiments], times)


def score_predictions(
    texts: Sequence[str], truth: Sequence[str], predicted: Sequence[str], times: Sequence[float]
) -> EvalResult:
    """The metrics of `evaluate` from predicted classes (and per-message times in ms)."""
    from sklearn.metrics import confusion_matrix, f1_score

    y = np.asarray(truth)
    p = np.asarray(predicted)
    y3 = np.where(y == "angry", "negative", y)
    p3 = np.where(p == "angry", "negative", p)
    neutral = y == "neutral"
    angry = y == "angry"
    per_class = f1_score(y, p, average=None, labels=list(CLASSES), zero_division=0)
    return EvalResult(
        n=len(texts),
        macro_f1_4=float(f1_score(y, p, average="macro", labels=list(CLASSES),
                                  zero_division=0)),
        macro_f1_3=float(f1_score(y3, p3, average="macro", labels=list(LABELS),
                                  zero_division=0)),
        per_class_f1={c: float(f) for c, f in zip(CLASSES, per_class, strict=True)},
        angry_recall=float((p[angry] == "angry").mean()) if angry.any() else float("nan"),
        angry_precision=float((y[p == "angry"] == "angry").mean())
        if (p == "angry").any() else float("nan"),
        false_escalation=float(np.isin(p[neutral], ["negative", "angry"]).mean())
        if neutral.any() else float("nan"),
        false_angry=float((p[neutral] == "angry").mean()) if neutral.any() else float("nan"),
        confusion=confusion_matrix(y, p, labels=list(CLASSES)).tolist(),
        p50_ms=float(np.percentile(times, 50)) if times else 0.0,
        p95_ms=float(np.percentile(times, 95)) if times else 0.0,
        errors=[(t, q, x) for t, q, x in zip(truth, predicted, texts, strict=True) if t != q],
    )


def evaluate_split(
    model: SentimentModel, data_path: DataSource = DEFAULT_DATA_PATHS, split: str = "test"
) -> EvalResult:
    examples = [e for e in load_dataset(data_path) if e.split == split]
    if not examples:
        raise ValueError(
            f"no {split} examples in {', '.join(map(str, data_paths(data_path)))}"
        )
    return evaluate(model, [e.text for e in examples], [e.label for e in examples])


@dataclass
class QuestionsResult:
    """Sentiment of help-center questions that are all non-angry (a second held-out set)."""

    path: Path
    n: int
    angry: float  # share flagged angry: false immediate escalations
    negative_or_angry: float  # share labelled negative (angry included)
    flagged: list[tuple[str, float, str]]  # (category, score, text), negative/angry ones

    def meets_target(self) -> bool:
        return self.angry <= QUESTIONS_TARGET_ANGRY

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path), "n": self.n, "angry": self.angry,
            "negative_or_angry": self.negative_or_angry,
            "target_angry": QUESTIONS_TARGET_ANGRY, "meets_target": self.meets_target(),
            "angry_texts": [t for c, _, t in self.flagged if c == "angry"],
        }


def load_questions(path: Path = QUESTIONS_PATH) -> list[str]:
    """The `question` of every line of the retrieval evaluation set."""
    questions: list[str] = []
    for lineno, row in read_jsonl(path):
        try:
            questions.append(str(row["question"]))
        except KeyError as exc:
            raise ValueError(f"{path}:{lineno}: bad row ({exc})") from exc
    return questions


def evaluate_questions(model: SentimentModel, path: Path = QUESTIONS_PATH) -> QuestionsResult:
    """Score every help-center question (none is angry): how many would be escalated."""
    questions = load_questions(path)
    if not questions:
        raise ValueError(f"no questions in {path}")
    results = model.predict(questions)
    flagged = sorted(
        ((s.category, s.score, q) for q, s in zip(questions, results, strict=True)
         if s.label == "negative"),
        key=lambda item: (item[0] != "angry", item[1]),
    )
    n = len(questions)
    return QuestionsResult(
        path=path, n=n,
        angry=sum(1 for s in results if s.angry) / n,
        negative_or_angry=sum(1 for s in results if s.label == "negative") / n,
        flagged=flagged,
    )


def format_questions_report(result: QuestionsResult, *, show: int = 0) -> str:
    try:
        shown = result.path.resolve().relative_to(REPO_ROOT.resolve())
    except ValueError:
        shown = result.path
    mark = "ok" if result.meets_target() else "ABOVE TARGET"
    lines = [
        f"help-center questions ({shown}, all non-angry): {result.n}",
        f"predicted angry (false escalations): {result.angry:.1%}"
        f" ({round(result.angry * result.n)})"
        f"  [target <= {QUESTIONS_TARGET_ANGRY:.0%}: {mark}]",
        f"predicted negative or angry: {result.negative_or_angry:.1%}"
        f" ({round(result.negative_or_angry * result.n)})",
    ]
    angry = [(c, sc, t) for c, sc, t in result.flagged if c == "angry"]
    for _, score, text in angry:
        lines.append(f"  angry    {score:+.2f} {text}")
    if show:
        others = [(c, sc, t) for c, sc, t in result.flagged if c != "angry"][:show]
        for _, score, text in others:
            lines.append(f"  negative {score:+.2f} {text}")
    return "\n".join(lines)


def format_report(result: EvalResult, *, show_errors: int = 0) -> str:
    def mark(ok: bool) -> str:
        return "ok" if ok else "BELOW TARGET"

    lines = [
        f"messages (test split): {result.n}",
        f"macro-F1, 4 classes (angry/negative/neutral/positive): {result.macro_f1_4:.3f}"
        f"  [target >= {TARGETS['macro_f1_4']}: "
        f"{mark(result.macro_f1_4 >= TARGETS['macro_f1_4'])}]",
        f"macro-F1, 3 labels (negative incl. angry/neutral/positive): {result.macro_f1_3:.3f}",
        "per-class F1: " + ", ".join(f"{c} {f:.3f}" for c, f in result.per_class_f1.items()),
        f"angry recall: {result.angry_recall:.3f}"
        f"  [target >= {TARGETS['angry_recall']}: "
        f"{mark(result.angry_recall >= TARGETS['angry_recall'])}]"
        f"   angry precision: {result.angry_precision:.3f}",
        f"false escalations (neutral -> negative or angry): {result.false_escalation:.1%}"
        f"  [target <= {TARGETS['false_escalation']:.0%}: "
        f"{mark(result.false_escalation <= TARGETS['false_escalation'])}]",
        f"neutral -> angry: {result.false_angry:.1%}",
        "confusion matrix (rows = true, columns = predicted):",
        "            " + "".join(f"{c:>10}" for c in CLASSES),
    ]
    for cls_name, row in zip(CLASSES, result.confusion, strict=True):
        lines.append(f"  {cls_name:<10}" + "".join(f"{v:>10}" for v in row))
    lines.append(f"time per message: p50 {result.p50_ms:.1f} ms, p95 {result.p95_ms:.1f} ms")
    lines.append("all targets met" if result.meets_targets() else "TARGETS NOT MET")
    if show_errors:
        lines.append(f"errors (first {show_errors}):")
        for truth, pred, text in result.errors[:show_errors]:
            lines.append(f"  {truth:>8} -> {pred:<8} {text}")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Frozen sets (triage/data/FROZEN_SETS.md): written 2026-11-30 in a separate pass, before any
# tuning. Only measured here: never train on them, pick thresholds on them, or print their
# texts (a list of misses invites keyword mining).

FROZEN_PATH = DATA_DIR / "sentiment_frozen.jsonl"
CONVERSATIONS_PATH = DATA_DIR / "conversations_frozen.jsonl"
FROZEN_LABEL = "frozen 2026-11-30, written before tuning"
# How the hub decides from one message (handoff/core/hub.py -> triage_port.PackageTriage):
# `triage.escalation.decide(history, latest, profile, policy)` with the message's sentiment
# in `latest["sentiment"]`; "predicted angry" below is that decision's "angry" reason.
HUB_DECISION = "triage.escalation.decide(history, latest, profile={}, load_policy())"


@dataclass(frozen=True)
class FrozenLine:
    text: str
    label: str  # one of CLASSES
    kind: str


@dataclass(frozen=True)
class FrozenConversation:
    id: str
    turns: tuple[str, ...]  # the customer's messages only, in order
    should_reach_person: bool
    kind: str


def load_frozen(path: Path = FROZEN_PATH) -> list[FrozenLine]:
    """`{"text", "label", "kind"}` lines; a label outside CLASSES is an error."""
    out = []
    for lineno, row in read_jsonl(path):
        try:
            line = FrozenLine(str(row["text"]), str(row["label"]), str(row.get("kind") or "-"))
        except KeyError as exc:
            raise ValueError(f"{path}:{lineno}: missing {exc}") from exc
        if line.label not in CLASSES:
            raise ValueError(f"{path}:{lineno}: label {line.label!r} not in {CLASSES}")
        out.append(line)
    return out


def load_conversations(path: Path = CONVERSATIONS_PATH) -> list[FrozenConversation]:
    """`{"id", "turns": [customer messages], "should_reach_person", "kind"}` lines."""
    out = []
    for lineno, row in read_jsonl(path):
        turns = row.get("turns")
        if not isinstance(turns, list) or not turns:
            raise ValueError(f"{path}:{lineno}: 'turns' must be a non-empty list")
        if not isinstance(row.get("should_reach_person"), bool):
            raise ValueError(f"{path}:{lineno}: 'should_reach_person' must be true or false")
        out.append(FrozenConversation(
            str(row.get("id") or lineno), tuple(str(t) for t in turns),
            row["should_reach_person"], str(row.get("kind") or "-"),
        ))
    return out


def customer_turn(text: str, sentiment: Sentiment) -> dict[str, Any]:
    """A customer message as the hub hands it to `decide` (handoff/store/messages.turn)."""
    return {
        "role": "user", "text": text,
        "sentiment": {"label": sentiment.label, "angry": sentiment.angry,
                      "score": float(sentiment.score)},
    }


@dataclass(frozen=True)
class LineOutcome:
    """One labelled message, scored alone and decided on alone (the first message of a chat)."""

    label: str
    kind: str
    predicted: str  # the model's class (Sentiment.category)
    hub_angry: bool  # the hub's decision has reason "angry" (angry flag, score <= max_score)
    escalated: bool  # the hub's decision escalates, for any reason


def judge_line(
    line: FrozenLine, sentiment: Sentiment, policy: Policy | None = None
) -> LineOutcome:
    decision = decide([], customer_turn(line.text, sentiment), {}, policy or load_policy())
    return LineOutcome(
        line.label, line.kind, sentiment.category, "angry" in decision.reasons, decision.escalate
    )


def _share(hits: int, n: int) -> float:
    return hits / n if n else float("nan")


@dataclass(frozen=True)
class KindStats:
    """Per kind (or "all"): accuracy of the 4 classes, angry lines caught by the hub's angry
    rule (and by any rule), non-angry lines the hub's angry rule escalates (false escalations)
    and non-angry lines escalated for any reason (a request, a complex topic... may be right)."""

    kind: str
    n: int
    accuracy: float
    n_angry: int
    angry_recall: float  # nan when the kind has no angry line
    angry_escalated: float
    n_calm: int
    false_escalation: float  # nan when the kind has no non-angry line
    calm_escalated: float


def kind_stats(kind: str, outcomes: Sequence[LineOutcome]) -> KindStats:
    angry = [o for o in outcomes if o.label == "angry"]
    calm = [o for o in outcomes if o.label != "angry"]
    return KindStats(
        kind=kind,
        n=len(outcomes),
        accuracy=_share(sum(o.predicted == o.label for o in outcomes), len(outcomes)),
        n_angry=len(angry),
        angry_recall=_share(sum(o.hub_angry for o in angry), len(angry)),
        angry_escalated=_share(sum(o.escalated for o in angry), len(angry)),
        n_calm=len(calm),
        false_escalation=_share(sum(o.hub_angry for o in calm), len(calm)),
        calm_escalated=_share(sum(o.escalated for o in calm), len(calm)),
    )


def per_kind(outcomes: Sequence[LineOutcome]) -> list[KindStats]:
    """One row per kind (sorted by name)."""
    groups: dict[str, list[LineOutcome]] = {}
    for o in outcomes:
        groups.setdefault(o.kind, []).append(o)
    return [kind_stats(kind, groups[kind]) for kind in sorted(groups)]


@dataclass
class FrozenResult:
    path: Path
    metrics: EvalResult  # model-level: F1, confusion, model angry recall, timing
    per_label: dict[str, tuple[float, float, float, int]]  # precision, recall, F1, support
    overall: KindStats  # hub-level, all lines
    kinds: list[KindStats]
    angry_max_score: float

    def meets_targets(self) -> bool:
        return (
            self.overall.angry_recall >= TARGETS["angry_recall"]
            and self.overall.false_escalation <= TARGETS["false_escalation"]
        )

    def to_dict(self) -> dict[str, Any]:
        def clean(x: float) -> float | None:
            return None if x != x else x  # NaN -> null

        return {
            "set": FROZEN_LABEL, "path": str(self.path), "n": self.metrics.n,
            "decision": HUB_DECISION,
            "macro_f1_4": self.metrics.macro_f1_4,
            "per_label": {
                c: {"precision": p, "recall": r, "f1": f, "n": n}
                for c, (p, r, f, n) in self.per_label.items()
            },
            "model_angry_recall": self.metrics.angry_recall,
            "angry_recall": self.overall.angry_recall,
            "false_escalation": self.overall.false_escalation,
            "angry_escalated_any_reason": self.overall.angry_escalated,
            "non_angry_escalated_any_reason": self.overall.calm_escalated,
            "per_kind": [
                {k: (clean(v) if isinstance(v, float) else v) for k, v in vars(s).items()}
                for s in self.kinds
            ],
            "confusion": {"labels": list(CLASSES), "matrix": self.metrics.confusion},
            "targets": {k: TARGETS[k] for k in ("angry_recall", "false_escalation")},
            "meets_targets": self.meets_targets(),
        }


def evaluate_frozen(
    model: SentimentModel, path: Path = FROZEN_PATH, policy: Policy | None = None
) -> FrozenResult:
    """Score every frozen line alone and take the hub's decision on it alone."""
    from sklearn.metrics import precision_recall_fscore_support

    lines = load_frozen(path)
    if not lines:
        raise ValueError(f"no messages in {path}")
    policy = policy or load_policy()
    texts = [line.text for line in lines]
    truth = [line.label for line in lines]
    # One batch (the hub's micro-batcher also scores messages together): for the bundled
    # model the result of each message does not depend on its batch, and it is 2x faster.
    sentiments = model.predict(texts)
    predicted = [s.category for s in sentiments]
    prec, rec, f1, support = precision_recall_fscore_support(
        truth, predicted, labels=list(CLASSES), zero_division=0
    )
    outcomes = [judge_line(line, s, policy) for line, s in zip(lines, sentiments, strict=True)]
    return FrozenResult(
        path=path,
        metrics=score_predictions(texts, truth, predicted, []),  # not timed: see the split
        per_label={
            c: (float(p), float(r), float(f), int(n))
            for c, p, r, f, n in zip(CLASSES, prec, rec, f1, support, strict=True)
        },
        overall=kind_stats("all", outcomes),
        kinds=per_kind(outcomes),
        angry_max_score=policy.angry.max_score,
    )


# Conversations


@dataclass(frozen=True)
class ConversationOutcome:
    id: str
    kind: str
    should_reach_person: bool
    reached: bool
    turn: int | None  # 1-based customer turn at which the hub escalated
    reasons: tuple[str, ...]  # of that decision, most urgent first


def replay_conversation(
    conversation: FrozenConversation,
    sentiments: Sequence[Sentiment],
    policy: Policy | None = None,
) -> ConversationOutcome:
    """Decide on each customer turn in order, with the earlier turns as history, as the hub
    does while the bot holds the chat; the first escalation hands it to a person and ends it.

    The set holds customer turns only, so there are no bot turns in the history (the
    "bot answered weakly twice" rule cannot fire; its phrases can) and no profile (no VIP).
    """
    policy = policy or load_policy()
    history: list[dict[str, Any]] = []
    for i, (text, sentiment) in enumerate(
        zip(conversation.turns, sentiments, strict=True), 1
    ):
        latest = customer_turn(text, sentiment)
        decision = decide(history, latest, {}, policy)
        if decision.escalate:
            return ConversationOutcome(
                conversation.id, conversation.kind, conversation.should_reach_person,
                True, i, tuple(decision.reasons),
            )
        history.append(latest)
    return ConversationOutcome(
        conversation.id, conversation.kind, conversation.should_reach_person, False, None, ()
    )


@dataclass(frozen=True)
class ConversationStats:
    kind: str
    n: int
    should: int  # conversations that should reach a person
    should_reached: int  # ... and do
    should_not: int
    should_not_reached: int  # should not, and do
    lead_reasons: dict[str, int]  # most urgent reason of each escalation -> count

    @property
    def reach_rate(self) -> float:
        """Share of the conversations that should reach a person and do."""
        return _share(self.should_reached, self.should)

    @property
    def false_reach_rate(self) -> float:
        """Share of the conversations that should not reach a person and do."""
        return _share(self.should_not_reached, self.should_not)


def conversation_stats(kind: str, outcomes: Sequence[ConversationOutcome]) -> ConversationStats:
    leads: dict[str, int] = {}
    for o in outcomes:
        if o.reached and o.reasons:
            leads[o.reasons[0]] = leads.get(o.reasons[0], 0) + 1
    return ConversationStats(
        kind=kind,
        n=len(outcomes),
        should=sum(o.should_reach_person for o in outcomes),
        should_reached=sum(o.should_reach_person and o.reached for o in outcomes),
        should_not=sum(not o.should_reach_person for o in outcomes),
        should_not_reached=sum(not o.should_reach_person and o.reached for o in outcomes),
        lead_reasons=dict(sorted(leads.items(), key=lambda kv: (-kv[1], kv[0]))),
    )


def conversations_per_kind(outcomes: Sequence[ConversationOutcome]) -> list[ConversationStats]:
    """One row per kind: kinds that should reach a person first, then by name."""
    groups: dict[str, list[ConversationOutcome]] = {}
    for o in outcomes:
        groups.setdefault(o.kind, []).append(o)
    rows = [conversation_stats(kind, items) for kind, items in groups.items()]
    return sorted(rows, key=lambda r: (r.should < r.n - r.should, r.kind))


@dataclass
class ConversationsResult:
    path: Path
    overall: ConversationStats
    kinds: list[ConversationStats]
    outcomes: list[ConversationOutcome]

    def to_dict(self) -> dict[str, Any]:
        def row(s: ConversationStats) -> dict[str, Any]:
            def clean(x: float) -> float | None:
                return None if x != x else x

            return {
                "kind": s.kind, "n": s.n, "should": s.should,
                "should_reached": s.should_reached, "should_not": s.should_not,
                "should_not_reached": s.should_not_reached,
                "reach_rate": clean(s.reach_rate), "false_reach_rate": clean(s.false_reach_rate),
                "lead_reasons": s.lead_reasons,
            }

        return {
            "set": FROZEN_LABEL, "path": str(self.path), "decision": HUB_DECISION,
            **row(self.overall), "per_kind": [row(s) for s in self.kinds],
            "conversations": [
                {"id": o.id, "kind": o.kind, "should_reach_person": o.should_reach_person,
                 "reached": o.reached, "turn": o.turn, "reasons": list(o.reasons)}
                for o in self.outcomes
            ],
        }


def evaluate_conversations(
    model: SentimentModel, path: Path = CONVERSATIONS_PATH, policy: Policy | None = None
) -> ConversationsResult:
    conversations = load_conversations(path)
    if not conversations:
        raise ValueError(f"no conversations in {path}")
    policy = policy or load_policy()
    turns = [t for conversation in conversations for t in conversation.turns]
    scored = iter(model.predict(turns))  # one batch, as for the frozen messages
    outcomes = [
        replay_conversation(conversation, [next(scored) for _ in conversation.turns], policy)
        for conversation in conversations
    ]
    return ConversationsResult(
        path, conversation_stats("all", outcomes), conversations_per_kind(outcomes), outcomes
    )


# Reports


def _shown(path: Path) -> Path:
    try:
        return path.resolve().relative_to(REPO_ROOT.resolve())
    except ValueError:
        return path


def _f(x: float, fmt: str = ".3f") -> str:
    return "-" if x != x else format(x, fmt)


def non_angry_to_angry(result: EvalResult) -> float:
    """Share of the non-angry messages the model flags angry (from the confusion matrix)."""
    rows = result.confusion[1:]  # CLASSES[0] is angry
    total = sum(sum(r) for r in rows)
    return _share(sum(r[0] for r in rows), total)


def format_frozen_report(result: FrozenResult) -> str:
    m, o = result.metrics, result.overall

    def mark(ok: bool, below: bool = True) -> str:
        return "ok" if ok else ("BELOW TARGET" if below else "ABOVE TARGET")

    lines = [
        f"=== sentiment, {FROZEN_LABEL}: {_shown(result.path)} ({m.n} messages) ===",
        f"each message alone, as the first message of a chat: the hub's {HUB_DECISION} with "
        f"history=[]; \"predicted angry\" = the decision's \"angry\" reason (the model "
        f"flags angry and score <= {result.angry_max_score:+.2f})",
        f"{'label':<10} {'precision':>9} {'recall':>7} {'F1':>6} {'n':>5}",
    ]
    for label, (p, r, f1, n) in result.per_label.items():
        lines.append(f"{label:<10} {p:>9.3f} {r:>7.3f} {f1:>6.3f} {n:>5}")
    lines += [
        f"macro-F1, 4 classes: {m.macro_f1_4:.3f}   macro-F1, 3 labels: {m.macro_f1_3:.3f}",
        f"angry recall (hub angry rule): {_f(o.angry_recall)}"
        f" ({round(o.angry_recall * o.n_angry) if o.n_angry else 0}/{o.n_angry})"
        f"  [target >= {TARGETS['angry_recall']}: "
        f"{mark(o.angry_recall >= TARGETS['angry_recall'])}]"
        f"   model flags angry: {_f(m.angry_recall)}",
        f"false escalations (non-angry predicted angry by the hub angry rule): "
        f"{_f(o.false_escalation, '.1%')}"
        f" ({round(o.false_escalation * o.n_calm) if o.n_calm else 0}/{o.n_calm})"
        f"  [target <= {TARGETS['false_escalation']:.0%}: "
        f"{mark(o.false_escalation <= TARGETS['false_escalation'], below=False)}]",
        f"escalated by the hub for any reason (angry, requested, complex, ...): "
        f"angry lines {_f(o.angry_escalated)}, non-angry lines {_f(o.calm_escalated, '.1%')}",
        f"neutral -> negative or angry: {_f(m.false_escalation, '.1%')}",
        "confusion matrix (rows = true, columns = predicted):",
        "            " + "".join(f"{c:>10}" for c in CLASSES),
    ]
    for cls_name, row in zip(CLASSES, m.confusion, strict=True):
        lines.append(f"  {cls_name:<10}" + "".join(f"{v:>10}" for v in row))
    groups = f"{'':<29} {'-------- angry lines --------':<29} {'---- non-angry lines ----':<25}"
    header = (
        f"{'kind':<17} {'n':>4} {'acc':>6} {'n':>5} {'recall':>7} {'esc-any':>15} "
        f"{'n':>5} {'false-esc':>9} {'esc-any':>9}"
    )
    lines += [
        "per kind: acc = 4-class accuracy; recall and false-esc by the hub's angry rule; "
        "esc-any = escalated by the hub for any reason",
        groups, header, "-" * len(header),
    ]
    for s in [*result.kinds, o]:
        lines.append(
            f"{s.kind:<17} {s.n:>4} {s.accuracy:>6.3f} {s.n_angry:>5} {_f(s.angry_recall):>7} "
            f"{_f(s.angry_escalated):>15} {s.n_calm:>5} {_f(s.false_escalation, '.1%'):>9} "
            f"{_f(s.calm_escalated, '.1%'):>9}"
        )
    lines.append("frozen-set targets met" if result.meets_targets()
                 else "FROZEN-SET TARGETS NOT MET")
    return "\n".join(lines)


def format_conversations_report(result: ConversationsResult) -> str:
    o = result.overall
    lines = [
        f"=== conversations, {FROZEN_LABEL}: {_shown(result.path)} ({o.n} conversations) ===",
        f"each customer turn in order: the hub's {HUB_DECISION}, earlier turns as history; "
        "the first escalation hands the chat to a person (the set has customer turns only: "
        "no bot turns in the history, no profile)",
        f"should reach a person and do: {_f(o.reach_rate)} ({o.should_reached}/{o.should})",
        f"should not and do:            {_f(o.false_reach_rate)} "
        f"({o.should_not_reached}/{o.should_not})",
    ]
    header = (
        f"{'kind':<15} {'should':>6} {'n':>4} {'reached':>8} {'share':>6}  "
        "lead reason of each escalation"
    )
    lines += [header, "-" * len(header)]
    for s in [*result.kinds, o]:
        should = "yes" if s.should == s.n else "no" if s.should == 0 else "mixed"
        reached = s.should_reached + s.should_not_reached
        reasons = ", ".join(f"{k} {v}" for k, v in s.lead_reasons.items()) or "-"
        lines.append(
            f"{s.kind:<15} {should:>6} {s.n:>4} {reached:>8} {_f(_share(reached, s.n)):>6}  "
            f"{reasons}"
        )
    return "\n".join(lines)


def format_side_by_side(test: EvalResult, frozen: FrozenResult) -> str:
    """The old set and the frozen one on the same model-level definitions."""
    f = frozen.metrics
    rows = [
        ("messages", str(test.n), str(f.n)),
        ("macro-F1, 4 classes", f"{test.macro_f1_4:.3f}", f"{f.macro_f1_4:.3f}"),
        ("angry recall (model flags angry)", _f(test.angry_recall), _f(f.angry_recall)),
        ("non-angry -> angry (model)", _f(non_angry_to_angry(test), ".1%"),
         _f(non_angry_to_angry(f), ".1%")),
        ("neutral -> negative or angry", _f(test.false_escalation, ".1%"),
         _f(f.false_escalation, ".1%")),
    ]
    rows += [(f"F1 {c}", f"{test.per_class_f1[c]:.3f}", f"{f.per_class_f1[c]:.3f}")
             for c in CLASSES]
    left, mid, right = 34, 30, 26
    lines = [
        "=== side by side: same model, same definitions ===",
        f"{'':<{left}} {'test split':>{mid}} {'frozen 2026-11-30':>{right}}",
        f"{'':<{left}} {'(written with the train data)':>{mid}} "
        f"{'(written before tuning)':>{right}}",
    ]
    lines += [f"{name:<{left}} {a:>{mid}} {b:>{right}}" for name, a, b in rows]
    return "\n".join(lines)
