"""Children first: sexual images of a child go to the DSL and the police before anything else,
and a child who may be at risk is the DSL's at once."""

from __future__ import annotations

from core.enums import AuditKind, EmailKind, Role, StepKey
from core.procedures import procedure_for
from db.audit import record_event
from db.cases import finish_step
from db.models import Case, Person
from db.outbox import dedup_key
from db.people import get_person, holder_of
from db.session import Session
from services.notices import email_about_case

NOT_NEEDED = "Not needed: no sexual images of a child were reported."
URGENT = 10  # outbox priority: delivered before anything queued alongside it


def dsl_of(session: Session, case: Case) -> Person:
    """The DSL, or the case lead when the school has none (or the DSL is the subject)."""
    dsl = holder_of(session, case.school_id, Role.DSL)
    if dsl is None or dsl.id == case.subject_id:
        return get_person(session, case.lead_id)
    return dsl


def settle_at_intake(session: Session, case: Case, reporter: Person) -> None:
    """In the intake transaction: alert the DSL now, or mark the path not needed.

    Queued before any other email of the case, so the DSL's alert goes out first.
    """
    if not case.safeguarding:
        for key in (StepKey.ALERT_DSL, StepKey.POLICE_CEOP_REFERRAL):
            finish_step(session, case.id, key, outcome=NOT_NEEDED, skipped=True)
        return
    alert_dsl_now(session, case, EmailKind.SAFEGUARDING_ALERT)
    finish_step(session, case.id, StepKey.ALERT_DSL, outcome="DSL alerted by email at once")
    email_about_case(
        session,
        case,
        reporter,
        EmailKind.SAFEGUARDING_ADVICE,
        dedup_key=dedup_key(EmailKind.SAFEGUARDING_ADVICE, case.id),
    )


def alert_dsl_now(session: Session, case: Case, kind: EmailKind) -> Person:
    """Queue a content-free urgent email to the DSL; returns who was alerted."""
    dsl = dsl_of(session, case)
    email_about_case(
        session,
        case,
        dsl,
        kind,
        dedup_key=dedup_key(kind, case.id),
        priority=URGENT,
        label=procedure_for(case.incident_type).label,
    )
    record_event(
        session, case_id=case.id, kind=AuditKind.DSL_ALERTED, data={"to": dsl.name, "why": kind}
    )
    return dsl


def alert_to_risk(session: Session, case: Case, why: str) -> None:
    """A child may be at risk: the DSL hears at once and the safeguarding review opens."""
    alert_dsl_now(session, case, EmailKind.RISK_ALERT)
    record_event(session, case_id=case.id, kind=AuditKind.SAFEGUARDING_OPENED, data={"why": why})
