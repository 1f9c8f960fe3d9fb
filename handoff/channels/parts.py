"""Long messages on platforms with a size limit (Messenger, Zalo: 2000 characters): cut into
readable parts, and send each part once even when a later one fails and is retried."""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from .base import DeliveryError

P = TypeVar("P")


def split_text(text: str, limit: int) -> list[str]:
    """`text` in parts of at most `limit` characters, cut at a paragraph, line, sentence
    or word boundary (mid-word only for a single word longer than `limit`)."""
    parts: list[str] = []
    rest = text.strip()
    while len(rest) > limit:
        cut = _cut(rest, limit)
        head, rest = rest[:cut].rstrip(), rest[cut:].lstrip()
        if head:
            parts.append(head)
    if rest:
        parts.append(rest)
    return parts


_BOUNDARIES = (
    re.compile(r"\n[ \t]*\n"),  # paragraph: cut before the blank line
    re.compile(r"\n"),
    re.compile(r"(?<=[.!?…])[\"'”’)\]]*(?=\s)"),  # sentence: cut after its punctuation
    re.compile(r"\s"),
)


def _cut(text: str, limit: int) -> int:
    window = text[: limit + 1]  # a boundary right after the limit still counts
    for level, pattern in enumerate(_BOUNDARIES):
        ends = [m.end() if level == 2 else m.start() for m in pattern.finditer(window)]
        ends = [e for e in ends if 0 < e <= limit]
        # Coarser boundaries only when they keep parts reasonably full.
        if ends and (level == len(_BOUNDARIES) - 1 or ends[-1] >= limit // 2):
            return ends[-1]
    return limit


class SentParts:
    """How many parts of each split message already went out, so that the outbox's retry
    after a failure in the middle sends only the rest. Per process and bounded: a crash
    between two parts can still repeat the earlier ones."""

    def __init__(self, keep: int = 1024) -> None:
        self._done: OrderedDict[int, int] = OrderedDict()
        self._keep = keep

    async def send_all(
        self, key: int, parts: Sequence[P], send: Callable[[P], Awaitable[None]]
    ) -> None:
        try:
            for index in range(self._done.get(key, 0), len(parts)):
                await send(parts[index])
                self._note(key, index + 1)
        except DeliveryError as exc:
            if exc.permanent:
                self._done.pop(key, None)  # never retried: nothing to remember
            raise
        self._done.pop(key, None)

    def _note(self, key: int, done: int) -> None:
        self._done[key] = done
        self._done.move_to_end(key)
        while len(self._done) > self._keep:
            self._done.popitem(last=False)
