"""Many generated rows at once, for the benchmark (bench/case_queries.py): Core INSERTs of
thousands of rows a statement, where the ORM would add them one object at a time."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.orm import Session

from db.models import Base

BATCH = 5_000


def batches(rows: Iterable[dict[str, Any]], size: int = BATCH) -> Iterator[list[dict[str, Any]]]:
    found = iter(rows)
    while chunk := list(islice(found, size)):
        yield chunk


def insert_many(session: Session, model: type[Base], rows: Iterable[dict[str, Any]]) -> int:
    """Insert rows (column values by name) into the model's table; returns how many."""
    count, given_ids = 0, False
    for chunk in batches(rows):
        session.execute(insert(model), chunk)
        count += len(chunk)
        given_ids = given_ids or "id" in chunk[0]
    if given_ids and session.get_bind().dialect.name == "postgresql":
        # Rows that bring their own ids leave the id sequence behind: move it past them,
        # or the next ordinary insert (an audit event's number) would collide.
        table = model.__tablename__
        session.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
            )
        )
    return count


def refresh_statistics(session: Session) -> None:
    """PostgreSQL: let the planner see the new data, as autovacuum soon would after a real
    load. SQLite keeps no statistics unless asked, and Casework never asks, so neither does
    the benchmark."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("ANALYZE"))
