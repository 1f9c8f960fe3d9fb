"""Rate limits: fixed windows per key, in this process or shared through Redis.

`hit(key, limit, window)` counts one event and answers 0 when it is allowed, or how many
seconds until the window ends (for `Retry-After`). `peek` answers the same without
counting. Keys name what is limited and for whom (`msg:session:<id>`, `login:ip:<ip>`). With
replicas (`CSKH_HUB_REDIS_URL`) every replica counts in the same Redis keys, so a client
cannot multiply its allowance by reconnecting to another replica.
"""

from __future__ import annotations

import math
import time
from typing import Any, Protocol


class RateLimiter(Protocol):
    async def hit(self, key: str, limit: int, window: float) -> float: ...

    async def peek(self, key: str, limit: int) -> float: ...

    async def reset(self, key: str) -> None: ...


class MemoryRateLimiter:
    def __init__(self, clock: Any = time.monotonic) -> None:
        self._clock = clock
        self._windows: dict[str, tuple[float, int]] = {}  # key -> (window end, count)
        self._sweep_at = 0.0

    def _current(self, key: str, now: float) -> tuple[float, int] | None:
        window = self._windows.get(key)
        if window is None or window[0] <= now:
            return None
        return window

    async def hit(self, key: str, limit: int, window: float) -> float:
        now = self._clock()
        if now >= self._sweep_at:  # forget ended windows now and then: memory stays bounded
            self._windows = {k: w for k, w in self._windows.items() if w[0] > now}
            self._sweep_at = now + 60.0
        current = self._current(key, now)
        ends, count = current if current else (now + window, 0)
        self._windows[key] = (ends, count + 1)
        return 0.0 if count + 1 <= limit else ends - now

    async def peek(self, key: str, limit: int) -> float:
        now = self._clock()
        current = self._current(key, now)
        if current is None or current[1] < limit:
            return 0.0
        return current[0] - now

    async def reset(self, key: str) -> None:
        self._windows.pop(key, None)


class RedisRateLimiter:
    def __init__(self, redis: Any, prefix: str = "cskh:rate:") -> None:
        self._redis = redis  # redis.asyncio.Redis
        self._prefix = prefix

    async def hit(self, key: str, limit: int, window: float) -> float:
        name = self._prefix + key
        pipe = self._redis.pipeline(transaction=True)
        pipe.incr(name)
        pipe.pexpire(name, max(1, int(window * 1000)), nx=True)
        pipe.pttl(name)
        count, _, ttl_ms = await pipe.execute()
        if int(count) <= limit:
            return 0.0
        return max(int(ttl_ms), 1) / 1000.0

    async def peek(self, key: str, limit: int) -> float:
        name = self._prefix + key
        pipe = self._redis.pipeline(transaction=False)
        pipe.get(name)
        pipe.pttl(name)
        count, ttl_ms = await pipe.execute()
        if count is None or int(count) < limit:
            return 0.0
        return max(int(ttl_ms), 1) / 1000.0

    async def reset(self, key: str) -> None:
        await self._redis.delete(self._prefix + key)


def retry_after_header(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))
