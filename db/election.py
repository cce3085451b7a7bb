"""One of several processes elected to do a piece of work, through the database.

Casework may run a worker on several machines against one PostgreSQL database. Work that
must not run in two places at once (the reconciler's pass, the hand-off's) is done by
whichever process holds a PostgreSQL advisory lock for it: a session-level lock taken with
`pg_try_advisory_lock` on a connection of its own, held for the work and given back after.
Nobody waits for it: a process that does not get it skips its turn. If the holder dies, its
connection closes and PostgreSQL frees the lock at once, so no one has to notice the death.
SQLite is one machine's database, and the process simply goes ahead.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from enum import IntEnum

from sqlalchemy import Connection, text
from sqlalchemy.exc import SQLAlchemyError

from core.settings import get_settings
from db.session import engine_for

log = logging.getLogger("db.election")

# Advisory locks are (space, key) pairs. 7311 is the audit chains' (db/audit.py); the
# elections have a space of their own, one key per kind of work.
_LOCK_SPACE = 7312


class Office(IntEnum):
    """The work only one process may do at a time."""

    RECONCILER = 1
    # The worker's hand-off and its announcer: every worker is woken by the same new case or
    # decision, and two doing the same list at once only race each other for it at Prefect.
    HANDOFF = 2
    TELLING = 3


@contextmanager
def elected(office: Office, url: str | None = None) -> Iterator[bool]:
    """Hold `office` for the `with` block if no other process does; yields whether we do.

    The lock lives on its own connection, outside every transaction of the work, so the
    work's commits and rollbacks cannot release it early; it is released when the block
    ends, or by PostgreSQL when the connection dies with its process.
    """
    engine = engine_for(url or get_settings().database_url)
    if engine.dialect.name != "postgresql":
        yield True
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        args = {"space": _LOCK_SPACE, "key": int(office)}
        held = bool(conn.scalar(text("SELECT pg_try_advisory_lock(:space, :key)"), args))
        try:
            yield held
        finally:
            if held:
                _release(conn, args)


def _release(conn: Connection, args: dict[str, int]) -> None:
    """Give the lock back; if that fails, drop the connection so PostgreSQL frees it."""
    try:
        conn.execute(text("SELECT pg_advisory_unlock(:space, :key)"), args)
    except SQLAlchemyError:
        log.warning("could not release an advisory lock; closing its connection", exc_info=True)
        conn.invalidate()  # a pooled connection must never carry the lock to someone else
