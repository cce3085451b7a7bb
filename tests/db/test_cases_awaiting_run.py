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

import pytest

from core.settings import Settings
from db.cases import open_without_run, unannounced
from db.session import Session
from tests.query_plans import plan, statements_sent
from tests.support import make_case

# The plan is SQLite's; PostgreSQL's planner weighs its statistics, which a test's few rows
# do not resemble.
pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@pytest.fixture
def url(configured: Settings) -> Iterator[str]:
    make_case(configured.database_url)
    yield configured.database_url


@pytest.mark.parametrize("ask", [open_without_run, unannounced])
def test_new_cases_are_found_through_the_index_of_cases_awaiting_a_run(
    url: str, ask: Callable[[Session], object]
) -> None:
    [(sql, params)] = statements_sent(url, ask, "cases")

    steps = plan(url, sql, params)

    assert any("ix_cases_awaiting_run" in step for step in steps), steps
    whole_tables = [s for s in steps if s.startswith("SCAN") and "USING" not in s]
    assert whole_tables == [], steps
