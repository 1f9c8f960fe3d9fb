"""Engine creation, sessions and programmatic Alembic migrations (SQLite or PostgreSQL)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
# Execution option marking a connection used only for reading (no SQLite write lock).
READ_ONLY = "cskh_read_only"


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        _ensure_sqlite_dir(url)
        engine = create_engine(
            url,
            # DB work runs in worker threads (see service.py), so the connection pool
            # hands connections across threads.
            connect_args={"check_same_thread": False, "timeout": 30},
            # SQL errors are logged: they must not carry customers' phones or messages.
            hide_parameters=True,
        )
        _tune_sqlite(engine)
        return engine
    return create_engine(
        url, pool_pre_ping=True, pool_size=10, max_overflow=10, hide_parameters=True
    )


def _ensure_sqlite_dir(url: str) -> None:
    path = url.split("///", 1)[-1]
    if path and path != ":memory:" and not path.startswith("file:"):
        Path(path).parent.mkdir(parents=True, exist_ok=True)


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions start, so the
        # BEGIN below is the one that is used.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")  # readers do not block the writer
        # With WAL, NORMAL syncs at checkpoints instead of every commit: a crash of the hub
        # loses nothing committed; only a power cut can lose the last commits. Two commits per
        # message made the fsync a large share of the hub's own time.
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A write transaction takes the write lock up front (BEGIN IMMEDIATE): a deferred one
        # that reads and then writes can fail with "database is locked" under concurrency
        # instead of waiting, which would break read-check-write sequences like
        # reply-after-claim. Reads (`Store.read`) must not queue behind writers: WAL lets
        # them see the last commit without any lock.
        if conn.get_execution_options().get(READ_ONLY):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


# pg_advisory_xact_lock key of migrations (any constant no other lock uses: "cskh" in hex).
_MIGRATION_LOCK = 0x63736B68


def migrate(engine: Engine) -> None:
    """`alembic upgrade head` on the given engine (idempotent). On PostgreSQL replicas that
    start together wait for each other: the first migrates, the others find it done."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def lock_key(s: Session, key: str) -> None:
    """Serialise this transaction with every other one that locks the same key, on every
    replica (PostgreSQL: a transaction advisory lock, released at commit or rollback). On
    SQLite a write transaction already holds the database's only write lock."""
    if s.get_bind().dialect.name == "postgresql":
        s.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": key})


def session_factory(engine: Engine, *, read_only: bool = False) -> sessionmaker[Session]:
    # expire_on_commit=False: objects are read after the transaction, in another coroutine.
    bind = engine.execution_options(**{READ_ONLY: True}) if read_only else engine
    return sessionmaker(bind, expire_on_commit=False)
