"""The audit trail is append-only in practice: any later change breaks the hash chain."""

from __future__ import annotations

from sqlalchemy import update

from casework.cli import main as casework
from core.settings import Settings
from db.audit import record_event, verify_chain
from db.models import AuditEvent
from db.session import transaction
from tests.support import make_case


def write_events(url: str, n: int) -> int:
    case_id = make_case(url)
    with transaction(url) as session:
        for i in range(n):
            record_event(session, case_id=case_id, kind="test.recorded", data={"n": i})
    return case_id


def test_an_untouched_chain_verifies(configured: Settings) -> None:
    url = configured.database_url
    write_events(url, 5)
    with transaction(url) as session:
        report = verify_chain(session, batch=3)  # batches must join up seamlessly
    assert report.ok and report.checked >= 6


def test_an_edited_event_is_found(configured: Settings) -> None:
    url = configured.database_url
    case_id = write_events(url, 5)
    with transaction(url) as session:
        target = (
            session.query(AuditEvent)
            .filter_by(case_id=case_id, kind="test.recorded")
            .order_by(AuditEvent.seq)
            .all()[2]
        )
        seq = target.seq
        session.execute(update(AuditEvent).where(AuditEvent.seq == seq).values(data={"n": 99}))
    with transaction(url) as session:
        report = verify_chain(session)
    assert not report.ok and report.bad_seq == seq
    assert report.problem == f"event {seq} was changed after it was written"


def test_a_deleted_event_is_found_and_the_cli_fails(configured: Settings, capsys: object) -> None:
    url = configured.database_url
    case_id = write_events(url, 4)
    assert casework(["audit", "verify"]) == 0
    with transaction(url) as session:
        victim = (
            session.query(AuditEvent)
            .filter_by(case_id=case_id)
            .order_by(AuditEvent.seq.desc())
            .all()[1]
        )
        seq = victim.seq
        session.delete(victim)
    with transaction(url) as session:
        report = verify_chain(session)
    assert not report.ok and report.problem == f"event {seq} is missing (next found is {seq + 1})"
    assert casework(["audit", "verify"]) == 1


def test_events_keep_actor_time_and_data(configured: Settings) -> None:
    url = configured.database_url
    case_id = make_case(url)
    with transaction(url) as session:
        opened = session.query(AuditEvent).filter_by(case_id=case_id).one()
    assert opened.kind == "case.opened"
    assert opened.actor.endswith("(staff)") and opened.actor_id is not None
    assert opened.at.tzinfo is not None
    assert opened.data["incident_type"] == "pupil_contact"
