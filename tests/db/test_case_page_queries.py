"""The case page's questions about a case's events read only the events they are about.

A long-running case has thousands of events, most of them steps done; the page asks for the
few of some kinds (corrections, marks in error, the access log's count) and records that it
was opened, which numbers the new event after the last one. With only (case_id, seq) each
kind's question read every event of the case, and numbering an event read every event of
every case (50 ms with 500,000). This checks the plans SQLite chooses for the statements
those functions really send, as tests/db/test_cases_awaiting_run.py does for the hand-off.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from core.enums import ACCESS_KINDS, AuditKind
from core.settings import Settings
from db.audit import data_of, events_of_kinds, marked_in_error, next_seq
from db.session import Session
from services.history import HISTORY_KINDS
from tests.query_plans import plan, statements_sent
from tests.support import make_case

# The plan is SQLite's; PostgreSQL's planner weighs its statistics, which a test's few rows
# do not resemble.
pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def test_numbering_an_event_reads_the_last_numbers_off_their_indexes(
    configured: Settings,
) -> None:
    url = configured.database_url
    make_case(url)
    [(sql, params)] = statements_sent(url, next_seq, "audit_events")

    steps = plan(url, sql, params)

    assert [s for s in steps if s.startswith("SCAN audit_events")] == [], steps


@pytest.mark.parametrize(
    "ask",
    [
        lambda session, case_id: data_of(session, case_id, AuditKind.CASE_CORRECTED),
        marked_in_error,
        lambda session, case_id: events_of_kinds(session, case_id, ACCESS_KINDS, limit=100),
        lambda session, case_id: events_of_kinds(session, case_id, HISTORY_KINDS, limit=200),
    ],
    ids=["corrections", "marked in error", "access log", "history"],
)
def test_a_case_s_events_of_some_kinds_are_found_by_case_and_kind(
    configured: Settings, ask: Callable[[Session, int], object]
) -> None:
    url = configured.database_url
    case_id = make_case(url)
    sent = statements_sent(url, lambda session: ask(session, case_id), "audit_events")

    # Every statement but the newest few in order (which reads the case's events newest
    # first, by `ix_audit_events_case_seq`, and stops at the limit) goes by kind.
    by_kind = [(sql, params) for sql, params in sent if "DESC" not in sql]
    assert by_kind, sent
    for sql, params in by_kind:
        steps = plan(url, sql, params)
        assert any("ix_audit_events_case_kind_seq (case_id=? AND kind=?)" in s for s in steps), (
            sql,
            steps,
        )
