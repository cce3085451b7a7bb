"""Procedure D: a member of staff is reported for breaching the social media policy."""

from __future__ import annotations

from prefect import flow, task

from db.cases import get_case
from db.session import transaction
from flows.steps.approval import step_pending, wait_for_person
from flows.steps.context import STEP_OPTIONS
from flows.steps.escalation import escalate_to_hr
from flows.steps.letters import skip_step
from flows.steps.lifecycle import close
from flows.steps.opening import opening_steps
from flows.steps.safeguarding import SAFEGUARDING_REVIEW, alert_dsl_to_risk


@task(name="child_at_risk_reported", **STEP_OPTIONS)
async def child_at_risk_reported(case_id: int) -> bool:
    with transaction() as session:
        return bool((get_case(session, case_id).details or {}).get("child_at_risk"))


@flow(name="staff_conduct", persist_result=False)
async def staff_conduct(case_id: int) -> str:
    """Investigate; children first if at risk; HR before any discipline; decide."""
    await opening_steps(case_id)
    if await child_at_risk_reported(case_id):
        await safeguard(case_id, "The report says a child may be at risk.")
    findings = await wait_for_person(case_id, "investigate")
    if findings.answer("child_may_be_at_risk") == "yes":
        await safeguard(case_id, "The investigation found a child may be at risk.")
    await skip_step(case_id, SAFEGUARDING_REVIEW, "Not needed: no child was found to be at risk.")
    await escalate_to_hr(case_id)
    await wait_for_person(case_id, "record_hr_advice")
    outcome = await wait_for_person(case_id, "staff_outcome")
    return await close(
        case_id, f"Outcome: {outcome.decision.value.replace('_', ' ')}. {outcome.reason}"
    )


async def safeguard(case_id: int, why: str) -> None:
    """Alert the DSL at once and wait for their safeguarding review (once per case)."""
    if await step_pending(case_id, SAFEGUARDING_REVIEW):
        await alert_dsl_to_risk(case_id, why)
        await wait_for_person(case_id, SAFEGUARDING_REVIEW)
