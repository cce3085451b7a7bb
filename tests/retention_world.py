"""Closed cases for the retention tests: a case with everything a case can hold about people
(evidence file, note, step outcome, answer, email, postal letter and print file), closed
long enough ago to be due for review."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from core.enums import ApprovalKind, EmailKind, IncidentType, Role
from core.files import evidence_files, letter_files
from core.templating import RenderedEmail
from db.approvals import open_request
from db.cases import NewCase, add_note, close_case, finish_step, open_case
from db.evidence import add_evidence
from db.letters import save_print_file
from db.models import Case, Person
from db.outbox import queue_email
from db.retention import date_review
from db.search import index_case
from db.session import transaction
from tests.support import PDF, PNG

PUPIL = "Jordan Miles"
LONG_AGO = datetime(2009, 10, 5, 9, 0, tzinfo=UTC)


def someone(session: Any, role: Role) -> Person:
    found = session.scalars(select(Person).where(Person.role == role).order_by(Person.id)).first()
    assert found is not None
    return found


def pupil_answers(name: str = PUPIL, year: str = "Year 6", **more: Any) -> dict[str, Any]:
    return {
        "pupil_name": name,
        "pupil_year_group": year,
        "pupil_reference": "A1234",
        "pupil_account": "@jay_k",
        "contact_continued": True,
        "platform_key": "instagram",
        **more,
    }


def closed_case(
    url: str,
    kind: IncidentType = IncidentType.PUPIL_CONTACT,
    details: dict[str, Any] | None = None,
    *,
    at: datetime = LONG_AGO,
    description: str = f"{PUPIL} sent me a follow request and two messages.",
    subject_role: Role | None = None,
    full: bool = True,
) -> int:
    """A case opened and closed at `at` (+ 30 days), its review date from the rules; with
    `full`, holding a file, a note, an outcome, an answer, an email and a print file."""
    with transaction(url) as session:
        reporter, lead = someone(session, Role.STAFF), someone(session, Role.DSL)
        subject = someone(session, subject_role) if subject_role else None
        case = open_case(
            session,
            school_id=reporter.school_id,
            reporter=reporter,
            lead=lead,
            new=NewCase(
                kind,
                "Instagram",
                at,
                description,
                pupil_answers() if details is None else details,
                subject_id=subject.id if subject else None,
            ),
        )
        case.opened_at = at
        index_case(session, case)
        if full:
            fill(session, case, reporter, lead)
        close_case(session, case, "Resolved with the parents." if full else "Resolved.", lead)
        case.closed_at = at + timedelta(days=30)
        date_review(session, case)
        return case.id


def fill(session: Any, case: Case, reporter: Person, lead: Person) -> None:
    """Everything personal a case can hold, one of each."""
    stored = evidence_files().save(PNG)
    add_evidence(
        session,
        case.id,
        reporter,
        stored,
        filename=f"{PUPIL} messages.png",
        content_type="image/png",
        source="my phone",
    )
    add_note(session, case.id, lead, f"Spoke to {PUPIL}'s mother, Mrs Miles, on the phone.")
    finish_step(
        session, case.id, "record_persistence", outcome=f"{PUPIL} stopped after a reminder."
    )
    approval, _ = open_request(
        session,
        case_id=case.id,
        step_key="record_discipline",
        kind=ApprovalKind.TASK,
        approver=lead,
        ttl=timedelta(days=3),
    )
    approval.reason = f"Mediation with {PUPIL} went well."
    approval.response = {"outcome": f"{PUPIL} apologised."}
    approval.decided_ip = "203.0.113.9"
    queue_email(
        session,
        dedup_key=f"test-letter:{case.id}",
        to="parent01@families.example",
        email=RenderedEmail(f"About {PUPIL}", f"Dear Mrs Miles, {PUPIL}...", "<p>Dear</p>"),
        kind=EmailKind.PARENT_LETTER,
        case_id=case.id,
    )
    parent = someone(session, Role.PARENT)
    printed = letter_files().save(PDF)
    save_print_file(session, case.id, printed, [(parent.id, 1)], 1)
