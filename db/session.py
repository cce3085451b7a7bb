"""Engines and sessions. SQLite gets WAL, a busy timeout and write-ahead locking."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from core.settings import get_settings

READ_ONLY = "casework_read_only"

# Code outside db/ names the unit of work and a database that cannot answer through these
# names, and never imports SQLAlchemy itself (an import-linter contract says so).
__all__ = ["DatabaseUnavailable", "Session", "reading", "transaction"]
DatabaseUnavailable = OperationalError


def stored_json(value: Any) -> str:
    """JSON columns as stored: keys sorted, no spaces. One text for one value, so the audit
    trail can hash an event's data as stored, without decoding it (db/audit.py)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite is tuned so several processes can share one file."""
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    settings = get_settings()
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_overflow,
        json_serializer=stored_json,
    )


def _sqlite_engine(url: str) -> Engine:
    path = url.split("///", 1)[-1]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        connect_args={"timeout": 30, "check_same_thread": False},
        json_serializer=stored_json,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take autocommit away from pysqlite so we decide when transactions begin.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # IMMEDIATE takes the write lock up front: a deferred transaction that reads and
        # then writes can fail at once with "database is locked" when another process
        # wrote in between, and busy_timeout does not help that case. Read-only work
        # (`reading`) needs no lock at all: WAL gives it a snapshot while others write.
        read_only = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


class ReadOnlySession(Session):
    """A unit of work that only reads (see `reading`)."""


@event.listens_for(ReadOnlySession, "before_flush")
def _refuse_writes(session: Session, *_: Any) -> None:
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("a read-only unit of work tried to save changes")


class _Database:
    """One URL's engine, with its session makers for writing and for reading."""

    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        self.writer = sessionmaker(self.engine, expire_on_commit=False)
        # SQLite has one writer at a time. Threads of one process that wait for it in
        # SQLite's busy handler sleep in growing steps (up to 100 ms) and are woken in no
        # order, so under a burst the lock sits idle between writers and an unlucky one
        # waits for seconds. They queue here instead: handed over the moment it is free.
        # (Other processes still meet at SQLite's own lock.)
        # Re-entrant, so a thread that nests a unit of work meets SQLite's own lock (and its
        # timeout) as before, rather than waiting on itself for ever.
        self.write_turn: threading.RLock | None = (
            threading.RLock() if self.engine.dialect.name == "sqlite" else None
        )
        options: dict[str, Any] = {READ_ONLY: True}
        if self.engine.dialect.name == "postgresql":
            options["postgresql_readonly"] = True  # the server refuses any write
        self.reader = sessionmaker(
            self.engine.execution_options(**options),
            class_=ReadOnlySession,
            expire_on_commit=False,
        )


_databases: dict[str, _Database] = {}
_databases_lock = threading.Lock()


def _database(url: str) -> _Database:
    with _databases_lock:
        found = _databases.get(url)
        if found is None:
            found = _databases[url] = _Database(url)
        return found


def engine_for(url: str) -> Engine:
    """The process's one engine (and so one connection pool) for `url`."""
    return _database(url).engine


def dispose_engine(url: str) -> None:
    """Close every pooled connection to `url` and forget its engine; others are untouched."""
    with _databases_lock:
        found = _databases.pop(url, None)
    if found is not None:
        found.engine.dispose()


def session_factory(url: str | None = None) -> sessionmaker[Session]:
    return _database(url or get_settings().database_url).writer


@contextmanager
def transaction(url: str | None = None) -> Iterator[Session]:
    """One unit of work: commits on success, rolls back on any error."""
    database = _database(url or get_settings().database_url)
    with _turn(database.write_turn), database.writer() as session, session.begin():
        yield session


@contextmanager
def _turn(lock: threading.RLock | None) -> Iterator[None]:
    if lock is None:
        yield
        return
    with lock:
        yield


@contextmanager
def reading(url: str | None = None) -> Iterator[Session]:
    """A unit of work that only reads: on SQLite it never waits for another writer.

    Writing in it is a bug and raises, rather than quietly taking SQLite's write lock.
    """
    with _database(url or get_settings().database_url).reader() as session, session.begin():
        yield session
