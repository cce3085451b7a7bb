"""Read-only units of work: they never queue behind a writer, and they cannot write."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from core.settings import Settings
from db.models import School
from db.session import reading, transaction


def test_reading_does_not_wait_for_a_writer_on_sqlite(configured: Settings) -> None:
    url = configured.database_url
    if not url.startswith("sqlite"):
        pytest.skip("PostgreSQL readers never wait for writers anyway")
    writer = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None, timeout=0)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("UPDATE schools SET name = 'Renamed in a transaction not yet committed'")
    try:
        # A write transaction would wait here for the lock (and fail after the busy timeout).
        with reading(url) as session:
            names = session.scalars(select(School.name)).all()
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert names and "Renamed in a transaction not yet committed" not in names


def test_changes_in_a_read_only_unit_of_work_are_refused(configured: Settings) -> None:
    url = configured.database_url
    with pytest.raises(RuntimeError, match="read-only"), reading(url) as session:
        school = session.scalars(select(School)).first()
        assert school is not None
        school.name = "Changed by mistake"
    with transaction(url) as session:
        assert "Changed by mistake" not in session.scalars(select(School.name)).all()


def test_postgresql_refuses_raw_writes_in_a_read_only_unit_of_work(configured: Settings) -> None:
    url = configured.database_url
    if url.startswith("sqlite"):
        pytest.skip("SQLite has no read-only transactions")
    with pytest.raises(DBAPIError, match="read-only"), reading(url) as session:
        session.execute(text("UPDATE schools SET name = 'Changed by mistake'"))
