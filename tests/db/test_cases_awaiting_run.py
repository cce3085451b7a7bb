"""The hand-off's questions, several times a second, read only the cases that await a run.

The worker asks for new cases (`open_without_run`) and for new cases whose head is not told
(`unannounced`) every fraction of a second. With a hundred thousand cases on file, reading
every case each time would keep a core busy; the partial index on cases awaiting a run
(db.models.AWAITING_RUN_SQL) answers from a handful of rows. This checks the plan SQLite
chooses for the statements those functions really send, so a change to their condition or
to the index that parts the two fails here rather than at a local authority.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import event

from core.settings import Settings
from db.cases import open_without_run, unannounced
from db.session import Session, engine_for, reading
from tests.support import make_case

# The plan is SQLite's; PostgreSQL's planner weighs its statistics, which a test's few rows
# do not resemble.
pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def statement_of(url: str, ask: Callable[[Session], object]) -> tuple[str, Any]:
    """The SQL and parameters `ask` sends to the database."""
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
    [found] = [(sql, params) for sql, params in sent if "FROM cases" in sql]
    return found


def plan(url: str, sql: str, params: Any) -> list[str]:
    """SQLite's plan for the statement, a line a step (e.g. "SCAN cases")."""
    with engine_for(url).connect() as conn:
        rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", params).all()
    return [str(row[-1]) for row in rows]


@pytest.fixture
def url(configured: Settings) -> Iterator[str]:
    make_case(configured.database_url)
    yield configured.database_url


@pytest.mark.parametrize("ask", [open_without_run, unannounced])
def test_new_cases_are_found_through_the_index_of_cases_awaiting_a_run(
    url: str, ask: Callable[[Session], object]
) -> None:
    sql, params = statement_of(url, ask)

    steps = plan(url, sql, params)

    assert any("ix_cases_awaiting_run" in step for step in steps), steps
    whole_tables = [s for s in steps if s.startswith("SCAN") and "USING" not in s]
    assert whole_tables == [], steps
