"""Advice to the member of staff, and the school's stock response to parents."""

from __future__ import annotations

from core.enums import EmailKind, StepKey
from core.templating import render
from db.cases import finish_step
from db.models import Case, School
from db.outbox import dedup_key
from db.people import get_person
from db.schools import get_school
from db.session import Session
from services.notices import email_about_case


def advise_staff(session: Session, case: Case) -> None:
    """Email the reporter the incident type's advice and settle the step."""
    reporter = get_person(session, case.reporter_id)
    email_about_case(
        session,
        case,
        reporter,
        f"{case.incident_type.value}_advice",
        dedup_key=dedup_key(EmailKind.ADVICE, case.id),
        kind=EmailKind.ADVICE,
        lead=get_person(session, case.lead_id),
    )
    finish_step(
        session, case.id, StepKey.ADVISE_STAFF, outcome=f"advice emailed to {reporter.name}"
    )


def send_stock_response(session: Session, case: Case) -> None:
    """Give the staff member the school's reply to parents, ready to copy and send."""
    reporter = get_person(session, case.reporter_id)
    email_about_case(
        session,
        case,
        reporter,
        EmailKind.STOCK_RESPONSE,
        dedup_key=dedup_key(EmailKind.STOCK_RESPONSE, case.id),
        stock_text=stock_response_text(get_school(session, case.school_id)),
    )
    finish_step(
        session,
        case.id,
        StepKey.SEND_STOCK_RESPONSE,
        outcome=f"stock response emailed to {reporter.name}",
    )


def stock_response_text(school: School) -> str:
    """The school's own wording if it has set one, otherwise Casework's default."""
    if school.stock_response.strip():
        return school.stock_response.strip()
    return render("letters/parent_contact/stock_response.txt.j2", school=school).strip()
