"""The safeguarding path: sexual images of a child go to the DSL and the police first."""

from __future__ import annotations

from prefect import task
from sqlalchemy.orm import Session

from core.procedures import procedure_for
from db.audit import record_event
from db.cases import finish_step, get_case, step_is_settled
from db.models import Case, Person, Role
from db.people import holder_of
from db.session import transaction
from flows.steps.context import STEP_OPTIONS, email_about_case

ALERT_DSL = "alert_dsl"
REFERRAL = "police_ceop_referral"
SAFEGUARDING_REVIEW = "safeguarding_review"
NOT_NEEDED = "Not needed: no sexual images of a child were reported."
URGENT = 10  # outbox priority: delivered before anything queued alongside it


def dsl_of(session: Session, case: Case) -> Person:
    """The DSL, or the case lead when the school has none (or the DSL is the subject)."""
    dsl = holder_of(session, case.school_id, Role.DSL)
    if dsl is None or dsl.id == case.subject_id:
        lead = session.get(Person, case.lead_id)
        assert lead is not None
        return lead
    return dsl


def settle_at_intake(session: Session, case: Case, reporter: Person) -> None:
    """In the intake transaction: alert the DSL now, or mark the path not needed.

    Queued before any other email of the case, so the DSL's alert goes out first.
    """
    if not case.safeguarding:
        for key in (ALERT_DSL, REFERRAL):
            finish_step(session, case.id, key, outcome=NOT_NEEDED, skipped=True)
        return
    alert_dsl_now(session, case, "safeguarding_alert", f"dsl_alert:{case.id}")
    finish_step(session, case.id, ALERT_DSL, outcome="DSL alerted by email at once")
    email_about_case(
        session, case, reporter, "safeguarding_advice", dedup_key=f"safeguarding_advice:{case.id}"
    )


def alert_dsl_now(session: Session, case: Case, template: str, dedup_key: str) -> Person:
    """Queue a content-free urgent email to the DSL; returns who was alerted."""
    dsl = dsl_of(session, case)
    email_about_case(
        session,
        case,
        dsl,
        template,
        dedup_key=dedup_key,
        priority=URGENT,
        label=procedure_for(case.incident_type).label,
    )
    record_event(
        session, case_id=case.id, kind="dsl.alerted", data={"to": dsl.name, "why": template}
    )
    return dsl


@task(name="alert_dsl_to_risk", **STEP_OPTIONS)
async def alert_dsl_to_risk(case_id: int, why: str) -> None:
    """A child may be at risk: the DSL hears at once (once per case)."""
    with transaction() as session:
        if step_is_settled(session, case_id, SAFEGUARDING_REVIEW):
            return
        case = get_case(session, case_id)
        alert_dsl_now(session, case, "risk_alert", f"risk_alert:{case_id}")
        record_event(session, case_id=case_id, kind="safeguarding.opened", data={"why": why})
