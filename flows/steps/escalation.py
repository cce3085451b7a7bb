"""Escalations: HR (with the case pack) and the police referral pack."""

from __future__ import annotations

from prefect import task

from db.cases import finish_step, get_case, step_is_settled
from db.models import Role, utcnow
from db.people import holder_of
from db.session import transaction
from flows.steps.context import STEP_OPTIONS, case_link, email_about_case
from flows.steps.packs import record_pack

ESCALATE_TO_HR = "escalate_to_hr"


@task(name="escalate_to_hr", **STEP_OPTIONS)
async def escalate_to_hr(case_id: int) -> None:
    """Open the case to HR, send them a content-free notice and produce the case pack."""
    with transaction() as session:
        if step_is_settled(session, case_id, ESCALATE_TO_HR):
            return
        case = get_case(session, case_id)
        hr = holder_of(session, case.school_id, Role.HR)
        if hr is None:
            raise LookupError("The school has no HR adviser in Casework to escalate to.")
        case.hr_escalated_at = utcnow()
        record_pack(session, case_id, "hr")
        email_about_case(
            session,
            case,
            hr,
            "hr_escalation",
            dedup_key=f"hr_escalation:{case_id}",
            pack_link=f"{case_link(case.id)}/packs/hr",
        )
        finish_step(
            session,
            case_id,
            ESCALATE_TO_HR,
            outcome=f"Escalated to {hr.name} (HR) with the case pack",
        )


@task(name="produce_police_pack", **STEP_OPTIONS)
async def produce_police_pack(case_id: int) -> None:
    """Record the police referral pack once, before the police reference is asked for."""
    with transaction() as session:
        if step_is_settled(session, case_id, "police_referral"):
            return
        from db.approvals import for_step

        if for_step(session, case_id, "police_referral") is None:
            record_pack(session, case_id, "police")
