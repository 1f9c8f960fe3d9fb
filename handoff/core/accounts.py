"""Agent accounts (the `cskh agent` commands and tests): create, password, capacity, lock."""

from __future__ import annotations

from .. import auth
from ..store import Store, agents
from ..store.models import DEFAULT_CAPACITY
from .views import AgentInfo, AgentRow


class Accounts:
    def __init__(self, store: Store) -> None:
        self._store = store

    def create_agent(
        self,
        username: str,
        password: str,
        display_name: str | None = None,
        role: str = "agent",
        team: str | None = None,
        capacity: int = DEFAULT_CAPACITY,
    ) -> AgentInfo:
        agents.check_new_password(password)
        hashed = auth.hash_password(password)  # slow on purpose: outside the transaction
        with self._store.write() as s:
            return agents.create(s, username, hashed, display_name, role, team, capacity)

    def set_password(self, username: str, password: str) -> None:
        agents.check_new_password(password)
        hashed = auth.hash_password(password)
        with self._store.write() as s:
            agents.set_password_hash(s, username, hashed)

    def set_capacity(self, username: str, capacity: int) -> None:
        with self._store.write() as s:
            agents.set_capacity(s, username, capacity)

    def set_active(self, username: str, active: bool) -> None:
        with self._store.write() as s:
            agents.set_active(s, username, active)

    def list_agents(self) -> list[AgentRow]:
        with self._store.read() as s:
            return agents.rows(s)
