"""`casework audit verify` splits the trail by id over processes and joins the ranges up:
each break is still found and named, including one that falls between two ranges."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, update

from casework import verifier
from casework.verifier import stretches, verify_everything
from core.settings import Settings
from db.audit import id_range, record_event
from db.models import AuditEvent
from db.session import reading, transaction
from tests.db.test_audit_chains import second_school
from tests.support import make_case, past_the_audit_guard


def test_the_trail_is_cut_into_ranges_of_about_the_same_size() -> None:
    assert stretches(1, 10, 2) == [(1, 6), (6, 11)]
    assert stretches(1, 10, 3) == [(1, 5), (5, 9), (9, 11)]
    assert stretches(5, 5, 4) == [(5, 6)]


def two_schools_events(url: str) -> list[int]:
    """Events at two schools, interleaved; returns Brook's events' numbers."""
    case_id, brook = make_case(url), second_school(url)
    brooks = []
    with transaction(url) as session:
        for n in range(4):
            record_event(session, case_id=case_id, kind="test.recorded", data={"n": n})
            event = record_event(session, case_id=None, kind="test.recorded", school_id=brook)
            brooks.append(event.seq)
    return brooks


@pytest.mark.parametrize("workers", [1, 2, 5])
def test_a_changed_event_is_found_however_the_trail_is_split(
    configured: Settings, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    url = configured.database_url
    monkeypatch.setattr(verifier.os, "cpu_count", lambda: workers)
    brooks = two_schools_events(url)
    intact = verify_everything(url, parallel_from=0)
    with reading(url) as session:
        assert intact.ok and intact.checked == session.query(AuditEvent).count()
        assert intact.chains == 2

    with transaction(url) as session:
        past_the_audit_guard(session)
        session.execute(
            update(AuditEvent).where(AuditEvent.seq == brooks[2]).values(kind="test.altered")
        )
    broken = verify_everything(url, parallel_from=0)
    assert not broken.ok and broken.bad_seq == brooks[2]
    assert broken.problem == f"event {brooks[2]} was changed after it was written"


def test_an_event_removed_where_two_ranges_meet_is_found(
    configured: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = configured.database_url
    monkeypatch.setattr(verifier.os, "cpu_count", lambda: 2)
    brooks = two_schools_events(url)
    with reading(url) as session:
        low, high = id_range(session)
    second_range_starts = stretches(low, high, 2)[1][0]
    # Brook's last event before the second range: the next Brook event opens that range's
    # part of the chain, and only joining the ranges shows what is missing before it.
    removed = max(seq for seq in brooks if seq < second_range_starts)
    following = min(seq for seq in brooks if seq > removed)
    with transaction(url) as session:
        past_the_audit_guard(session)
        session.execute(delete(AuditEvent).where(AuditEvent.seq == removed))

    broken = verify_everything(url, parallel_from=0)

    assert not broken.ok and broken.bad_seq == following
    assert "of Brook Academy's chain is missing" in broken.problem
