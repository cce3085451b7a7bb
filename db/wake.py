"""Waking the worker when there is new work for it, so a case need not wait for its poll.

A unit of work that opens a case, stores a decision or queues an email asks for the worker
to be woken (`wake_worker`); the signal goes out only if it commits. On PostgreSQL it is a
NOTIFY, which the server delivers at commit to every worker listening, on any machine. On
SQLite (one machine) it is the modification time of a small file beside the database,
written after the commit, which the worker looks at every few milliseconds: a stat, not a
query. The worker's own polls stay as they were, as the safety net for a signal missed.
"""

from __future__ import annotations

import os
import select
import time
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

CHANNEL = "casework_work"
_PENDING = "casework_wake_pending"
# How often the SQLite watcher looks at the wake file: a stat takes microseconds.
SQLITE_LOOK_SECONDS = 0.01


def wake_worker(session: Session) -> None:
    """Wake the worker once this unit of work commits (nothing if it rolls back)."""
    if session.get_bind().dialect.name == "postgresql":
        # Transactional: the server sends it at commit and drops it on a rollback.
        session.execute(text(f"NOTIFY {CHANNEL}"))
    else:
        session.info[_PENDING] = str(session.get_bind().engine.url)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    url = session.info.pop(_PENDING, None)
    if url is not None:
        path = wake_file(url)
        if path is not None:
            _touch(path)


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, _previous: Any) -> None:
    session.info.pop(_PENDING, None)


def wake_file(url: str) -> Path | None:
    """The file whose modification time wakes the worker of this SQLite database."""
    database = make_url(url).database
    if not database or database == ":memory:":
        return None
    return Path(database).with_name(Path(database).name + "-wake")


def _touch(path: Path) -> None:
    # An explicit nanosecond time: two wakes within one clock tick still differ.
    now = time.time_ns()
    try:
        os.utime(path, ns=(now, now))
    except FileNotFoundError:
        _create_and_stamp(path, now)
    except OSError:
        pass  # the worker's poll finds the work a moment later


def _create_and_stamp(path: Path, now: int) -> None:
    """The first wake of a database: make its wake file, then set the time as usual."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
        os.utime(path, ns=(now, now))
    except OSError:
        pass  # as above: the poll is the safety net


class WorkSignal:
    """What a worker waits on between passes: True as soon as new work is signalled."""

    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        self._pg: psycopg.Connection[Any] | None = None
        self._file: Path | None = None
        self._seen = 0
        if parsed.get_backend_name() == "postgresql":
            self._pg = psycopg.connect(
                parsed.set(drivername="postgresql").render_as_string(hide_password=False),
                autocommit=True,
            )
            self._pg.execute(f"LISTEN {CHANNEL}")
        else:
            self._file = wake_file(url)
            self._seen = self._stamp()

    def wait(self, seconds: float) -> bool:
        """Block up to `seconds` for a signal; True if one came (all pending ones taken)."""
        if self._pg is not None:
            return self._wait_pg(self._pg, seconds)
        deadline = time.monotonic() + seconds
        while True:
            stamp = self._stamp()
            if stamp != self._seen:
                self._seen = stamp
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(SQLITE_LOOK_SECONDS, left))

    def _wait_pg(self, conn: psycopg.Connection[Any], seconds: float) -> bool:
        ready, _, _ = select.select([conn.fileno()], [], [], seconds)
        if not ready:
            return False
        # Read every notification already here, without waiting for more.
        return bool(list(conn.notifies(timeout=0)))

    def _stamp(self) -> int:
        if self._file is None:
            return 0
        try:
            return self._file.stat().st_mtime_ns
        except OSError:
            return 0

    def close(self) -> None:
        if self._pg is not None:
            self._pg.close()
