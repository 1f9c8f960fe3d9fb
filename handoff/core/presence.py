"""Which agents have a console open, for auto-away and wait estimates.

`Presence` is one process's view (the default: one hub, no Redis). `RedisPresence` is shared
by every replica: each replica records, per agent, how many console sockets it holds, as a
member of one Redis sorted set scored by an expiry time that its heartbeat pushes forward.
A replica that dies stops refreshing, and its agents stop counting once the TTL passes.
`agents_online()` is read inside database transactions, so it must not do I/O: replicas
keep a copy of the count, refreshed on every heartbeat and presence change.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any, Protocol

from .background import cancel_and_wait

log = logging.getLogger(__name__)


class PresencePort(Protocol):
    def lock(self, agent_id: int) -> contextlib.AbstractAsyncContextManager[None]:
        """Held across a status change, so a page reload cannot interleave its disconnect
        and connect and leave a connected agent away."""
        ...

    async def connected(self, agent_id: int) -> bool:
        """Count a socket; True when the agent was auto-away (to be set online again)."""
        ...

    async def disconnected(self, agent_id: int) -> bool:
        """Uncount a socket; True when it was the agent's last one anywhere."""
        ...

    async def mark_auto_away(self, agent_id: int) -> None: ...

    def agents_online(self) -> int: ...

    def online_agent_ids(self) -> frozenset[int]: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class Presence:
    def __init__(self) -> None:
        self._sockets: Counter[int] = Counter()  # agent id -> open console sockets
        # Agents set away because their last console closed (not by their own choice): a
        # new console puts them back online.
        self._auto_away: set[int] = set()
        self._lock = asyncio.Lock()

    @contextlib.asynccontextmanager
    async def lock(self, agent_id: int) -> AsyncIterator[None]:
        async with self._lock:
            yield

    async def connected(self, agent_id: int) -> bool:
        self._sockets[agent_id] += 1
        if agent_id in self._auto_away:
            self._auto_away.discard(agent_id)
            return True
        return False

    async def disconnected(self, agent_id: int) -> bool:
        self._sockets[agent_id] -= 1
        if self._sockets[agent_id] > 0:
            return False
        del self._sockets[agent_id]
        return True

    async def mark_auto_away(self, agent_id: int) -> None:
        self._auto_away.add(agent_id)

    def agents_online(self) -> int:
        return sum(1 for n in self._sockets.values() if n > 0)

    def online_agent_ids(self) -> frozenset[int]:
        return frozenset(a for a, n in self._sockets.items() if n > 0)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None


def replica_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class RedisPresence:
    """Presence shared through Redis (see the module docstring)."""

    def __init__(
        self,
        redis: Any,
        *,
        replica: str | None = None,
        heartbeat_seconds: float = 10.0,
        ttl_seconds: float = 30.0,
        prefix: str = "cskh:presence",
    ) -> None:
        self._redis = redis  # redis.asyncio.Redis
        self.replica = replica or replica_name()
        self._heartbeat = heartbeat_seconds
        self._ttl = ttl_seconds
        self._members = f"{prefix}:members"  # "<agent>|<replica>" -> expiry (unix seconds)
        self._auto_away = f"{prefix}:auto_away"
        self._lock_prefix = f"{prefix}:lock:"
        self._local: Counter[int] = Counter()
        self._online_ids: frozenset[int] = frozenset()
        self._task: asyncio.Task[None] | None = None

    def _member(self, agent_id: int) -> str:
        return f"{agent_id}|{self.replica}"

    @contextlib.asynccontextmanager
    async def lock(self, agent_id: int) -> AsyncIterator[None]:
        async with self._redis.lock(
            f"{self._lock_prefix}{agent_id}", timeout=10, blocking_timeout=10
        ):
            yield

    async def connected(self, agent_id: int) -> bool:
        self._local[agent_id] += 1
        pipe = self._redis.pipeline(transaction=True)
        pipe.zadd(self._members, {self._member(agent_id): time.time() + self._ttl})
        pipe.srem(self._auto_away, str(agent_id))
        _, was_auto_away = await pipe.execute()
        await self.refresh()
        return bool(was_auto_away)

    async def disconnected(self, agent_id: int) -> bool:
        self._local[agent_id] -= 1
        if self._local[agent_id] > 0:
            return False
        del self._local[agent_id]
        await self._redis.zrem(self._members, self._member(agent_id))
        others = await self._live_members(agent_id)
        await self.refresh()
        return not others

    async def mark_auto_away(self, agent_id: int) -> None:
        await self._redis.sadd(self._auto_away, str(agent_id))

    def agents_online(self) -> int:
        return len(self._online_ids)

    def online_agent_ids(self) -> frozenset[int]:
        return self._online_ids

    async def _live_members(self, agent_id: int | None = None) -> list[str]:
        members = await self._redis.zrangebyscore(self._members, time.time(), "+inf")
        names = [m.decode() if isinstance(m, bytes) else str(m) for m in members]
        if agent_id is None:
            return names
        return [n for n in names if n.split("|", 1)[0] == str(agent_id)]

    async def refresh(self) -> int:
        """Push this replica's entries forward, drop expired ones, recount."""
        now = time.time()
        pipe = self._redis.pipeline(transaction=False)
        if self._local:
            pipe.zadd(self._members, {self._member(a): now + self._ttl for a in self._local})
        pipe.zremrangebyscore(self._members, "-inf", now)
        await pipe.execute()
        live = await self._live_members()
        self._online_ids = frozenset(int(n.split("|", 1)[0]) for n in live)
        return len(self._online_ids)

    async def _beat(self) -> None:
        while True:
            try:
                await self.refresh()
            except Exception:
                log.warning("presence heartbeat failed", exc_info=True)
            await asyncio.sleep(self._heartbeat)

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._beat())

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None
        if self._local:
            # A clean shutdown gives its agents' entries back at once (SIGKILL waits for TTL).
            await self._redis.zrem(self._members, *[self._member(a) for a in self._local])
            self._local.clear()
