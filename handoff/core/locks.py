"""Per-conversation serialisation inside one hub process."""

from __future__ import annotations

import asyncio


class KeyedLocks:
    """One asyncio lock per conversation key, dropped when nobody holds or waits for it.

    Messages of one conversation are handled in order (a customer double-sending must not
    produce two escalations); different conversations run concurrently.
    """

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    def __call__(self, key: str) -> _KeyedLock:
        return _KeyedLock(self, key)


class _KeyedLock:
    def __init__(self, owner: KeyedLocks, key: str) -> None:
        self._owner, self._key = owner, key

    async def __aenter__(self) -> None:
        lock, users = self._owner._locks.get(self._key, (asyncio.Lock(), 0))
        self._owner._locks[self._key] = (lock, users + 1)
        await lock.acquire()

    async def __aexit__(self, *exc: object) -> None:
        lock, users = self._owner._locks[self._key]
        lock.release()
        if users <= 1:
            del self._owner._locks[self._key]
        else:
            self._owner._locks[self._key] = (lock, users - 1)
