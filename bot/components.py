"""Custom Rasa 3.6 NLU component (imported by Rasa from .venv-rasa, cwd = repository root).

`UnknownWordsFallback`: a linear intent classifier sees an all-unknown message ("qwxz plok",
"asdfgh") as a zero feature vector and answers with its intercepts, i.e. confidently the
intent with the shortest examples (measured: "qwxz plok vvv" -> affirm 0.77). This component
remembers the accent-folded words of the training data and turns a message in which too few
words are known into `nlu_fallback`, so the bot says it did not understand instead of "ok".
Button payloads ("/intent{...}") are never touched.
"""

from __future__ import annotations

import json
import re
import unicodedata
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

_WORD = re.compile(r"[a-z0-9]+")
_VOCAB_FILE = "vocabulary.json"
FALLBACK = "nlu_fallback"


def folded_words(text: str) -> list[str]:
    # Same folding as cskh.text.fold (that package is not installed in the Rasa venv).
    text = unicodedata.normalize("NFC", text).lower().replace("đ", "d")
    text = "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")
    return _WORD.findall(text)


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True
)
class UnknownWordsFallback(GraphComponent):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        # A message is "not understood" when fewer than this share of its words were ever
        # seen in training (accent-folded).
        return {"min_known_share": 0.34}

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        vocabulary: set[str] | None = None,
    ) -> None:
        self._config = {**self.get_default_config(), **config}
        self._storage = model_storage
        self._resource = resource
        self._vocabulary = vocabulary or set()

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> UnknownWordsFallback:
        return cls(config, model_storage, resource)

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> UnknownWordsFallback:
        try:
            with model_storage.read_from(resource) as directory:
                words = json.loads((directory / _VOCAB_FILE).read_text(encoding="utf-8"))
        except (ValueError, FileNotFoundError):
            words = []
        return cls(config, model_storage, resource, set(words))

    def train(self, training_data: TrainingData) -> Resource:
        vocabulary: set[str] = set()
        for example in training_data.training_examples:
            vocabulary.update(folded_words(example.get(TEXT) or ""))
        self._vocabulary = vocabulary
        with self._storage.write_to(self._resource) as directory:
            (directory / _VOCAB_FILE).write_text(json.dumps(sorted(vocabulary)), "utf-8")
        return self._resource

    def known_share(self, text: str) -> float | None:
        words = folded_words(text)
        if not words:
            return None
        return sum(w in self._vocabulary for w in words) / len(words)

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            if not self._vocabulary or text.startswith("/"):
                continue
            share = self.known_share(text)
            if share is None or share >= self._config["min_known_share"]:
                continue
            fallback = {"name": FALLBACK, "confidence": 1.0}
            ranking = [r for r in message.get(INTENT_RANKING_KEY) or [] if r["name"] != FALLBACK]
            message.set(INTENT, fallback, add_to_output=True)
            message.set(INTENT_RANKING_KEY, [fallback, *ranking], add_to_output=True)
        return messages
