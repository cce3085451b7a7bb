"""The audit trail is append-only: the database refuses to change or remove an event, and
someone who gets round that (the database's owner can drop the guard) breaks the hash chain."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, text, update
from sqlalchemy.exc import DBAPIError

from casework.cli import main as casework
from core.settings import Settings
from db.audit import record_event, verify_chain
from db.models import AuditEvent
from db.session import transaction
from tests.support import make_case, past_the_audit_guard


def write_events(url: str, n: int) -> int:
    case_id = make_case(url)
    with transaction(url) as session:
        for i in range(n):
            record_event(session, case_id=case_id, kind="test.recorded", data={"n": i})
    return case_id


@pytest.mark.parametrize(
    "change",
    [
        update(AuditEvent).values(data={"n": 99}),
        delete(AuditEvent),
    ],
    ids=["update", "delete"],
)
def test_the_database_refuses_to_change_or_remove_an_event(
    configured: Settings, change: object
) -> None:
    url = configured.database_url
    write_events(url, 2)
    with pytest.raises(DBAPIError, match="append-only"), transaction(url) as session:
        session.execute(change)  # type: ignore[call-overload]
    with transaction(url) as session:
        assert verify_chain(session).ok
        kept = (
            session.query(AuditEvent).filter_by(kind="test.recorded").order_by(AuditEvent.seq).all()
        )
    assert [event.data["n"] for event in kept] == [0, 1]


def test_postgresql_refuses_to_empty_the_audit_table(configured: Settings) -> None:
    url = configured.database_url
    if url.startswith("sqlite"):
        pytest.skip("SQLite has no TRUNCATE")
    with pytest.raises(DBAPIError, match="append-only"), transaction(url) as session:
        session.execute(text("TRUNCATE audit_events CASCADE"))


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
        past_the_audit_guard(session)
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
        seq, position = victim.seq, victim.chain_seq
        past_the_audit_guard(session)
        session.delete(victim)
    with transaction(url) as session:
        report = verify_chain(session)
    assert not report.ok and report.problem == (
        f"the event at position {position} of Oakfield Primary School's chain is missing "
        f"(the next one found is event {seq + 1})"
    )
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


def test_a_wrong_event_is_marked_in_error_and_stays_as_written(
    signed_in: Callable[[str], TestClient], configured: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    url = configured.database_url
    case_id = write_events(url, 2)
    with transaction(url) as session:
        wrong = session.query(AuditEvent).filter_by(case_id=case_id, kind="test.recorded").first()
        assert wrong is not None
        seq, written = wrong.seq, dict(wrong.data)

    reason = "Recorded against the wrong pupil."
    by = ["--by", "dsl@oakfield.example"]
    assert casework(["audit", "mark-in-error", str(seq), "--reason", reason, *by]) == 0

    with transaction(url) as session:
        original = session.query(AuditEvent).filter_by(seq=seq).one()
        correction = session.query(AuditEvent).order_by(AuditEvent.seq.desc()).first()
        assert verify_chain(session).ok
    assert original.data == written, "the original is kept as it was written"
    assert correction is not None and correction.case_id == case_id
    assert correction.kind == "audit.marked_in_error" and correction.actor.startswith("Daniel")
    assert correction.data == {"event": seq, "kind": "test.recorded", "reason": reason}
    page = signed_in("dsl@oakfield.example").get(f"/cases/{case_id}").text
    assert "marked an earlier entry as recorded in error" in page and reason in page


def test_marking_in_error_needs_an_event_a_reason_and_a_person(
    configured: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    write_events(configured.database_url, 1)
    by = ["--by", "dsl@oakfield.example"]
    assert casework(["audit", "mark-in-error", "9999", "--reason", "Wrong.", *by]) == 2
    assert "There is no audit event 9999." in capsys.readouterr().err
    assert casework(["audit", "mark-in-error", "1", "--reason", "  ", *by]) == 2
    assert "Give the reason" in capsys.readouterr().err
    nobody = ["--by", "nobody@elsewhere.example"]
    assert casework(["audit", "mark-in-error", "1", "--reason", "Wrong.", *nobody]) == 2
    assert "No one at Casework has the address" in capsys.readouterr().err


def test_the_production_role_can_write_events_but_never_change_them(
    configured: Settings,
) -> None:
    """The grants the README gives Casework's own PostgreSQL role: it records events (the
    id sequence included) but UPDATE, DELETE and TRUNCATE are refused by the database's
    permissions, before any trigger."""
    url = configured.database_url
    if not url.startswith("postgresql"):
        pytest.skip("roles and grants are PostgreSQL's")
    case_id = make_case(url)
    role = f"casework_app_{uuid.uuid4().hex[:8]}"
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    grants = re.search(r"```sql\n(CREATE ROLE casework_app.*?)```", readme, re.S)
    assert grants is not None, "the README shows the role's grants"
    statements = [
        line.replace("casework_app", role).replace(" LOGIN PASSWORD '...'", "")
        for line in grants.group(1).strip().splitlines()
        if "ON DATABASE" not in line  # the test database has its own name
    ]
    with transaction(url) as session:
        for statement in statements:
            session.execute(text(statement))
    try:
        with transaction(url) as session:
            session.execute(text(f"SET LOCAL ROLE {role}"))
            event = record_event(session, case_id=case_id, kind="test.recorded", data={"n": 1})
            assert event.chain_seq > 1
        for change in ("UPDATE audit_events SET kind = 'x'", "DELETE FROM audit_events"):
            refused = "permission denied for table audit_events"
            with pytest.raises(DBAPIError, match=refused), transaction(url) as s:
                s.execute(text("SET LOCAL session_replication_role = replica"))  # no triggers
                s.execute(text(f"SET LOCAL ROLE {role}"))
                s.execute(text(change))
    finally:
        with transaction(url) as session:
            session.execute(text(f"DROP OWNED BY {role}"))
            session.execute(text(f"DROP ROLE {role}"))
