"""What a function really asks the database, and the plan SQLite chooses for it: for the
tests that check a frequent question reads only the rows it is about."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import event

from db.session import Session, engine_for, reading


def statements_sent(
    url: str, ask: Callable[[Session], object], table: str
) -> list[tuple[str, Any]]:
    """The SQL and parameters of each statement `ask` sends that reads `table`."""
    sent: list[tuple[str, Any]] = []

    def keep(_conn: Any, _cursor: Any, sql: str, params: Any, *_: Any) -> None:
        sent.append((sql, params))

    engine = engine_for(url)
    event.listen(engine, "before_cursor_execute", keep)
    try:
        with reading(url) as session:
            ask(session)
    finally:
        event.remove(engine, "before_cursor_execute", keep)
    return [(sql, params) for sql, params in sent if f"FROM {table}" in sql]


def plan(url: str, sql: str, params: Any) -> list[str]:
    """SQLite's plan for the statement, a line a step (e.g. "SCAN cases")."""
    with engine_for(url).connect() as conn:
        rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params).all()
    return [str(row[-1]) for row in rows]
