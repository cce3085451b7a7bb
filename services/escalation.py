"""Escalations: HR before any disciplinary action, and the police referral pack."""

from __future__ import annotations

from core.enums import EmailKind, StepKey
from db.cases import finish_step
from db.models import Case, utcnow
from db.outbox import dedup_key
from db.people import hr_adviser
from db.session import Session
from services.notices import case_link, email_about_case
from services.packs import record_pack


def escalate_to_hr(session: Session, case: Case) -> None:
    """Open the case to HR, send them a content-free notice and produce the case pack."""
    hr = hr_adviser(session, case.school_id)
    case.hr_escalated_at = utcnow()
    record_pack(session, case.id, "hr")
    email_about_case(
        session,
        case,
        hr,
        EmailKind.HR_ESCALATION,
        dedup_key=dedup_key(EmailKind.HR_ESCALATION, case.id),
        pack_link=f"{case_link(case.id)}/packs/hr",
    )
    finish_step(
        session,
        case.id,
        StepKey.ESCALATE_TO_HR,
        outcome=f"Escalated to {hr.name} (HR) with the case pack",
    )
