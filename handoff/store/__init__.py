"""Persistence of the hub, split by concern; every function takes the caller's Session.

`Store` only opens units of work: `write()` is one transaction (committed on exit, rolled
back on error) and `read()` a read-only snapshot. The use cases in `handoff/core/` decide
what happens inside one transaction; the modules here (`agents`, `lifecycle`,
`conversations`, `messages`, `reporting`, `outbox`) know tables, not wording or HTTP.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from .db import session_factory


class Store:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._writes = session_factory(engine)
        self._reads = session_factory(engine, read_only=True)

    @contextmanager
    def write(self) -> Iterator[Session]:
        with self._writes() as s, s.begin():
            yield s

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._reads() as s:
            yield s
