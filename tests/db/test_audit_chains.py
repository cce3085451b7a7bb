"""Each school's events are on a chain of its own: schools never wait for each other's audit
writes, a break is named with its school, one case can be checked on its own, and the trail
written before the chains were split still verifies."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import delete, update

from core.enums import OrganisationKind
from core.settings import Settings
from db.audit import (
    GENESIS,
    chain_head,
    legacy_hash,
    record_event,
    school_chain,
    verify_case,
    verify_chain,
)
from db.migrate import alembic_config, upgrade
from db.models import AuditEvent
from db.schools import add_organisation, add_school
from db.session import make_engine, transaction
from tests.support import make_case, past_the_audit_guard


def second_school(url: str) -> int:
    with transaction(url) as session:
        group = add_organisation(session, name="Brook Trust", kind=OrganisationKind.TRUST)
        return add_school(
            session,
            organisation_id=group.id,
            name="Brook Academy",
            address="1 Brook Lane",
            email="office@brook.example",
            phone="01632 960000",
        ).id


def test_each_school_has_its_own_chain_and_a_break_names_its_school(
    configured: Settings,
) -> None:
    url = configured.database_url
    case_id = make_case(url)
    brook = second_school(url)
    with transaction(url) as session:
        at_oakfield = record_event(session, case_id=case_id, kind="test.recorded")
        at_brook = record_event(session, case_id=None, kind="test.recorded", school_id=brook)
        nowhere = record_event(session, case_id=None, kind="test.recorded")
    assert at_brook.chain == school_chain(brook) and at_brook.chain_seq == 1
    assert at_brook.prev_hash == GENESIS, "Brook's first event starts a chain of its own"
    assert at_oakfield.chain != at_brook.chain and at_oakfield.chain_seq > 1
    assert nowhere.chain == "installation"
    assert at_brook.seq > at_oakfield.seq, "events are still numbered across chains"

    with transaction(url) as session:
        report = verify_chain(session)
    assert report.ok and report.chains == 3

    with transaction(url) as session:
        past_the_audit_guard(session)
        session.execute(
            update(AuditEvent).where(AuditEvent.seq == at_brook.seq).values(data={"n": 1})
        )
    with transaction(url) as session:
        report = verify_chain(session)
    assert not report.ok and report.bad_seq == at_brook.seq
    assert report.problem == f"event {at_brook.seq} was changed after it was written"

    with transaction(url) as session:  # Oakfield's chain comes first in the report
        past_the_audit_guard(session)
        session.execute(
            delete(AuditEvent).where(
                AuditEvent.chain == at_oakfield.chain,
                AuditEvent.chain_seq == at_oakfield.chain_seq - 1,
            )
        )
    with transaction(url) as session:
        report = verify_chain(session)
    assert report.problem == (
        f"the event at position {at_oakfield.chain_seq - 1} of Oakfield Primary School's "
        f"chain is missing (the next one found is event {at_oakfield.seq})"
    )


def test_verify_case_checks_one_case_alone(configured: Settings) -> None:
    url = configured.database_url
    first, second = make_case(url), make_case(url)
    with transaction(url) as session:
        for n in range(3):  # the two cases' events interleave on the school's chain
            record_event(session, case_id=first, kind="test.recorded", data={"n": n})
            record_event(session, case_id=second, kind="test.recorded", data={"n": n})
        assert verify_case(session, first).ok and verify_case(session, first).checked >= 4
        events = session.query(AuditEvent).filter_by(case_id=first).order_by(AuditEvent.seq)
        edited, follower = events[2], events[3]
        edited_seq, follower_seq = edited.seq, follower.seq

    with transaction(url) as session:
        past_the_audit_guard(session)
        session.execute(
            update(AuditEvent).where(AuditEvent.seq == edited_seq).values(data={"n": 99})
        )
    with transaction(url) as session:
        check = verify_case(session, first)
        other = verify_case(session, second)
    assert not check.ok and check.bad_seq == edited_seq
    assert check.problem == f"event {edited_seq} was changed after it was written"
    assert other.ok, "the other case's events are untouched"

    with transaction(url) as session:  # the event the follower hangs from is removed
        past_the_audit_guard(session)
        session.execute(delete(AuditEvent).where(AuditEvent.seq == follower_seq - 1))
    with transaction(url) as session:
        check = verify_case(session, first)
    assert not check.ok
    assert f"event {edited_seq}" in check.problem or f"event {follower_seq}" in check.problem


def test_unrelated_schools_do_not_wait_for_each_others_audit_writes(
    configured: Settings,
) -> None:
    """On PostgreSQL a writer holds its chain until it commits: a writer at another school
    goes straight through, one at the same school waits."""
    url = configured.database_url
    if not url.startswith("postgresql"):
        pytest.skip("SQLite has one writer at a time whatever the chain")
    brook = second_school(url)
    oakfield_case = make_case(url)
    holding, release = threading.Event(), threading.Event()

    def hold_oakfields_chain() -> None:
        with transaction(url) as session:
            record_event(session, case_id=oakfield_case, kind="test.held")
            holding.set()
            release.wait(10)

    def write(case_id: int | None, school_id: int | None) -> float:
        started = time.monotonic()
        with transaction(url) as session:
            record_event(session, case_id=case_id, kind="test.recorded", school_id=school_id)
        return time.monotonic() - started

    holder = threading.Thread(target=hold_oakfields_chain)
    holder.start()
    try:
        assert holding.wait(10)
        assert write(None, brook) < 1.0, "Brook's write did not wait for Oakfield's"
        waiter_took: list[float] = []
        waiter = threading.Thread(target=lambda: waiter_took.append(write(oakfield_case, None)))
        waiter.start()
        time.sleep(1.0)
        assert waiter.is_alive(), "a second writer at Oakfield waits for the first"
    finally:
        release.set()
        holder.join(10)
    waiter.join(10)
    assert waiter_took and waiter_took[0] >= 1.0
    with transaction(url) as session:
        assert verify_chain(session).ok
        length, _ = chain_head(session, school_chain(brook))
    assert length == 1


def test_the_trail_written_before_chains_were_split_still_verifies(db_url: str) -> None:
    """Events written by the single-chain version keep their hashes and verify after the
    upgrade; new events go on their school's chain beside them."""
    command.upgrade(alembic_config(db_url), "0014")
    at = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
    prev, rows = GENESIS, []
    for seq in range(1, 4):
        data = {"n": seq}
        digest = legacy_hash(prev, seq, None, "test.legacy", "system", at, data)
        rows.append({"seq": seq, "prev": prev, "hash": digest, "data": f'{{"n":{seq}}}'})
        prev = digest
    engine = make_engine(db_url)
    try:
        with engine.begin() as connection:
            for row in rows:
                connection.execute(
                    sa.text(
                        "INSERT INTO audit_events (seq, case_id, kind, actor, actor_id, at, data,"
                        " prev_hash, hash) VALUES (:seq, NULL, 'test.legacy', 'system', NULL,"
                        " :at, :data, :prev, :hash)"
                    ),
                    {**row, "at": at},
                )
    finally:
        engine.dispose()

    upgrade(db_url)

    with transaction(db_url) as session:
        assert chain_head(session, "") == (3, prev)
        added = record_event(session, case_id=None, kind="test.new")
    assert added.seq == 4 and added.chain == "installation" and added.chain_seq == 1
    with transaction(db_url) as session:
        report = verify_chain(session)
    assert report.ok and report.checked == 4 and report.chains == 2
