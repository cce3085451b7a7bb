"""Waking the worker when there is new work for it, so a case need not wait for its poll.

A unit of work that opens a case, stores a decision or queues an email asks for the worker
to be woken for that kind of work (`wake_worker`); the signal goes out only if it commits.
On PostgreSQL it is a NOTIFY naming the kind, which the server delivers at commit to every
worker listening, on any machine. On SQLite (one machine) it is the modification time of a
small file per kind beside the database, written after the commit, which the worker looks
at every few milliseconds: a stat, not a query. Each of the worker's loops wakes only for
its own kinds (every step of every flow queues mail, and the hand-off has nothing to do
with mail). The worker's own polls stay as they were, as the safety net for a signal missed.
"""

from __future__ import annotations

import enum
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


class Work(enum.StrEnum):
    """The kinds of new work a worker is woken for."""

    MAIL = "mail"  # an email queued: the sender
    CASE = "case"  # a case opened: the announcer and the hand-off
    DECISION = "decision"  # a decision stored: the hand-off


def wake_worker(session: Session, work: Work) -> None:
    """Wake the worker for `work` once this unit of work commits (nothing if it rolls back)."""
    if session.get_bind().dialect.name == "postgresql":
        # Transactional: the server sends it at commit and drops it on a rollback; the same
        # payload twice in one transaction is sent once.
        session.execute(
            text("SELECT pg_notify(:channel, :work)"), {"channel": CHANNEL, "work": work}
        )
    else:
        pending = session.info.setdefault(_PENDING, set())
        pending.add((str(session.get_bind().engine.url), work))


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    for url, work in session.info.pop(_PENDING, set()):
        path = wake_file(url, work)
        if path is not None:
            _touch(path)


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, _previous: Any) -> None:
    session.info.pop(_PENDING, None)


def wake_file(url: str, work: Work) -> Path | None:
    """The file whose modification time wakes the workers of this SQLite database for `work`."""
    database = make_url(url).database
    if not database or database == ":memory:":
        return None
    return Path(database).with_name(f"{Path(database).name}-wake-{work}")


def _touch(path: Path) -> None:
    # An explicit nanosecond time: two wakes within one clock tick still differ.
    now = time.time_ns()
    try:
        try:
            os.utime(path, ns=(now, now))
        except FileNotFoundError:  # the database's first wake: make the file, then stamp it
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
            os.utime(path, ns=(now, now))
    except OSError:
        pass  # the worker's poll finds the work a moment later


class WorkSignal:
    """What a worker waits on between passes: the kinds of new work signalled since."""

    def __init__(self, url: str) -> None:
        parsed = make_url(url)
        self._pg: psycopg.Connection[Any] | None = None
        self._files: dict[Work, Path] = {}
        self._seen: dict[Work, int] = {}
        if parsed.get_backend_name() == "postgresql":
            self._pg = psycopg.connect(
                parsed.set(drivername="postgresql").render_as_string(hide_password=False),
                autocommit=True,
            )
            self._pg.execute(f"LISTEN {CHANNEL}")
        else:
            for work in Work:
                path = wake_file(url, work)
                if path is not None:
                    self._files[work] = path
            self._seen = self._stamps()

    def wait(self, seconds: float) -> frozenset[Work]:
        """Block up to `seconds` for a signal; the kinds of work signalled (all pending ones
        taken), or none."""
        if self._pg is not None:
            return self._wait_pg(self._pg, seconds)
        deadline = time.monotonic() + seconds
        while True:
            stamps = self._stamps()
            woken = frozenset(work for work, stamp in stamps.items() if stamp != self._seen[work])
            if woken:
                self._seen = stamps
                return woken
            left = deadline - time.monotonic()
            if left <= 0:
                return frozenset()
            time.sleep(min(SQLITE_LOOK_SECONDS, left))

    def _wait_pg(self, conn: psycopg.Connection[Any], seconds: float) -> frozenset[Work]:
        ready, _, _ = select.select([conn.fileno()], [], [], seconds)
        if not ready:
            return frozenset()
        # Read every notification already here, without waiting for more.
        return frozenset().union(*(_kinds(note.payload) for note in conn.notifies(timeout=0)))

    def _stamps(self) -> dict[Work, int]:
        return {work: _stamp(path) for work, path in self._files.items()}

    def close(self) -> None:
        if self._pg is not None:
            self._pg.close()


def _kinds(payload: str) -> frozenset[Work]:
    """The work a notification names; one that names none (sent by an older version during
    an upgrade) may be anything, and wakes every loop."""
    try:
        return frozenset({Work(payload)})
    except ValueError:
        return frozenset(Work)


def _stamp(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0
