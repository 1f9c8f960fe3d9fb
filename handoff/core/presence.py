"""Which agents have a console open (this process), for auto-away and wait estimates."""

from __future__ import annotations

import asyncio
from collections import Counter


class Presence:
    def __init__(self) -> None:
        self._sockets: Counter[int] = Counter()  # agent id -> open console sockets
        # Agents set away because their last console closed (not by their own choice): a
        # new console puts them back online.
        self._auto_away: set[int] = set()
        # Held across a status change, so a page reload cannot interleave its disconnect and
        # connect and leave a connected agent away.
        self.lock = asyncio.Lock()

    def connected(self, agent_id: int) -> bool:
        """Count a socket; True when the agent was auto-away (to be set online again)."""
        self._sockets[agent_id] += 1
        if agent_id in self._auto_away:
            self._auto_away.discard(agent_id)
            return True
        return False

    def disconnected(self, agent_id: int) -> bool:
        """Uncount a socket; True when it was the agent's last one."""
        self._sockets[agent_id] -= 1
        if self._sockets[agent_id] > 0:
            return False
        del self._sockets[agent_id]
        return True

    def mark_auto_away(self, agent_id: int) -> None:
        self._auto_away.add(agent_id)

    def agents_online(self) -> int:
        return sum(1 for n in self._sockets.values() if n > 0)
