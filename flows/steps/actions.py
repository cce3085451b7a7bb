"""Steps Casework carries out between the waits: stock response, HR, police pack, meeting,
and the urgent alert when a child may be at risk."""

from __future__ import annotations

from prefect import task

from core.enums import StepKey
from db.approvals import for_step
from db.models import Case
from db.session import Session
from flows.steps.base import STEP_OPTIONS, once
from services import advice, escalation, meeting, safeguarding
from services.packs import record_pack


@task(name=StepKey.SEND_STOCK_RESPONSE, **STEP_OPTIONS)
async def send_stock_response(case_id: int) -> None:
    """Give the staff member the school's reply to parents, ready to copy and send."""
    once(case_id, StepKey.SEND_STOCK_RESPONSE, advice.send_stock_response)


@task(name=StepKey.ESCALATE_TO_HR, **STEP_OPTIONS)
async def escalate_to_hr(case_id: int) -> None:
    """Open the case to HR, send them a content-free notice and produce the case pack."""
    once(case_id, StepKey.ESCALATE_TO_HR, escalation.escalate_to_hr)


@task(name="produce_police_pack", **STEP_OPTIONS)
async def produce_police_pack(case_id: int) -> None:
    """Record the police referral pack once, before the police reference is asked for."""

    def work(session: Session, case: Case) -> None:
        if for_step(session, case.id, StepKey.POLICE_REFERRAL) is None:
            record_pack(session, case.id, "police")

    once(case_id, StepKey.POLICE_REFERRAL, work)


@task(name=StepKey.INVITE_TO_MEETING, **STEP_OPTIONS)
async def invite_to_meeting(case_id: int) -> None:
    once(case_id, StepKey.INVITE_TO_MEETING, meeting.invite_to_meeting)


@task(name="alert_dsl_to_risk", **STEP_OPTIONS)
async def alert_dsl_to_risk(case_id: int, why: str) -> None:
    """A child may be at risk: the DSL hears at once (once per case)."""

    def work(session: Session, case: Case) -> None:
        safeguarding.alert_to_risk(session, case, why)

    once(case_id, StepKey.SAFEGUARDING_REVIEW, work)
