"""`casework audit verify` splits the trail by id over processes and joins the ranges up:
each break is still found and named, including one that falls between two ranges."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import delete, select, update

from casework import verifier
from casework.verifier import stretches, verify_everything
from core.settings import Settings
from db.audit import (
    chain_head,
    chained,
    id_range,
    next_seq,
    record_event,
    school_chain,
    verify_chain,
)
from db.bulk import insert_many
from db.models import AuditEvent, utcnow
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


# Each part of an event the hash covers, and its link to the event before, changed in turn:
# (the change, given the event and a case of the other school; the message it must give).
TAMPERING: dict[str, tuple[Callable[[AuditEvent, int], dict[str, Any]], str]] = {
    "kind": (lambda event, case_id: {"kind": "test.altered"}, "was changed"),
    "actor": (lambda event, case_id: {"actor": "Someone else (dsl)"}, "was changed"),
    "data": (lambda event, case_id: {"data": {"n": 99}}, "was changed"),
    "case": (lambda event, case_id: {"case_id": case_id}, "was changed"),
    "time": (lambda event, case_id: {"at": datetime(2020, 1, 1, tzinfo=UTC)}, "was changed"),
    "number": (lambda event, case_id: {"seq": event.seq + 1000}, "was changed"),
    "hash": (lambda event, case_id: {"hash": "f" * 64}, "was changed"),
    "link": (lambda event, case_id: {"prev_hash": "0" * 64}, "does not follow"),
}


@pytest.mark.parametrize("part", sorted(TAMPERING))
def test_every_part_of_an_event_is_checked_when_the_work_is_split(
    configured: Settings, monkeypatch: pytest.MonkeyPatch, part: str
) -> None:
    """The pass re-hashes each event from its columns as read for speed (number and case as
    text, the time as the database writes it): leaving any of them out, or the link to the
    event before, would let that change through. The change is in the second school's chain,
    with the trail split over two processes."""
    url = configured.database_url
    monkeypatch.setattr(verifier.os, "cpu_count", lambda: 2)
    brooks = two_schools_events(url)
    change, said = TAMPERING[part]
    with transaction(url) as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.seq == brooks[2])).one()
        oakfield_case = session.scalars(
            select(AuditEvent.case_id).where(AuditEvent.case_id.is_not(None))
        ).first()
        assert oakfield_case is not None
        values = change(event, oakfield_case)
        past_the_audit_guard(session)
        session.execute(update(AuditEvent).where(AuditEvent.seq == brooks[2]).values(**values))

    broken = verify_everything(url, parallel_from=0)

    named = values.get("seq", brooks[2])
    assert not broken.ok and broken.bad_seq == named
    assert broken.problem.startswith(f"event {named} {said}")


def test_times_are_hashed_as_written_whatever_their_fraction_of_a_second(
    configured: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PostgreSQL writes a time without its fraction's trailing zeros (12:00:00, 12:00:00.5):
    each shape is read back as the time that was hashed, and a time moved by a microsecond
    is still found."""
    url = configured.database_url
    monkeypatch.setattr(verifier.os, "cpu_count", lambda: 2)
    brook = second_school(url)
    written = [
        datetime(2026, 12, 7, 9, 30, 0, 0, tzinfo=UTC),
        datetime(2026, 12, 7, 9, 30, 1, 500000, tzinfo=UTC),
        datetime(2026, 12, 7, 9, 30, 2, 123450, tzinfo=UTC),
        datetime(2026, 12, 7, 9, 30, 3, 999999, tzinfo=UTC),
        datetime(2026, 12, 7, 9, 30, 4, 10, tzinfo=UTC),
    ]
    times = iter(written)
    monkeypatch.setattr("db.audit.utcnow", lambda: next(times))
    with transaction(url) as session:
        seqs = [
            record_event(session, case_id=None, kind="test.recorded", school_id=brook).seq
            for _ in written
        ]
    intact = verify_everything(url, parallel_from=0)
    with reading(url) as session:
        assert intact.ok and intact.checked == session.query(AuditEvent).count()
        assert verify_chain(session, chains=[school_chain(brook)]).ok
        assert intact.heads[school_chain(brook)][0] == len(written)

    with transaction(url) as session:
        past_the_audit_guard(session)
        session.execute(
            update(AuditEvent)
            .where(AuditEvent.seq == seqs[1])
            .values(at=datetime(2026, 12, 7, 9, 30, 1, 500001, tzinfo=UTC))
        )
    broken = verify_everything(url, parallel_from=0)
    assert not broken.ok and broken.bad_seq == seqs[1]
    with reading(url) as session:
        alone = verify_chain(session, chains=[school_chain(brook)])
    assert not alone.ok and alone.bad_seq == seqs[1]


def test_a_break_at_the_start_of_a_long_pass_is_named_in_the_same_transaction(
    configured: Settings,
) -> None:
    """The pass stops at the first break. On PostgreSQL the server has more chunks of the
    range on their way by then (here about 20 MB): stopping the statement would abort the
    transaction the break is named in, so the rest is read first."""
    url = configured.database_url
    chain = school_chain(second_school(url))
    with transaction(url) as session:
        events = (
            {
                "case_id": None,
                "chain": chain,
                "kind": "test.recorded",
                "actor": "system",
                "at": utcnow(),
                "data": {"n": n, "text": "x" * 5000},
            }
            for n in range(4000)
        )
        heads = {chain: chain_head(session, chain)}
        first = next_seq(session)
        insert_many(session, AuditEvent, chained(events, heads, first))
    with transaction(url) as session:
        past_the_audit_guard(session)
        session.execute(update(AuditEvent).where(AuditEvent.seq == first).values(kind="altered"))

    with reading(url) as session:
        report = verify_chain(session, batch=100)
        assert not report.ok and report.bad_seq == first
        assert report.problem == f"event {first} was changed after it was written"
        assert session.scalar(select(AuditEvent.kind).where(AuditEvent.seq == first))
