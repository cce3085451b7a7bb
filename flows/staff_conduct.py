"""Procedure D: a member of staff is reported for breaching the social media policy."""

from __future__ import annotations

from prefect import flow

from core.enums import StepKey
from flows.steps.actions import alert_dsl_to_risk, escalate_to_hr
from flows.steps.base import case_details, skip_step, step_pending
from flows.steps.closing import close
from flows.steps.opening import opening_steps
from flows.steps.waiting import wait_for_person


@flow(name="staff_conduct", persist_result=False)
async def staff_conduct(case_id: int) -> str:
    """Investigate; children first if at risk; HR before any discipline; decide."""
    await opening_steps(case_id)
    if (await case_details(case_id)).get("child_at_risk"):
        await safeguard(case_id, "The report says a child may be at risk.")
    findings = await wait_for_person(case_id, StepKey.INVESTIGATE)
    if findings.answer("child_may_be_at_risk") == "yes":
        await safeguard(case_id, "The investigation found a child may be at risk.")
    await skip_step(
        case_id, StepKey.SAFEGUARDING_REVIEW, "Not needed: no child was found to be at risk."
    )
    await escalate_to_hr(case_id)
    await wait_for_person(case_id, StepKey.RECORD_HR_ADVICE)
    outcome = await wait_for_person(case_id, StepKey.STAFF_OUTCOME)
    return await close(
        case_id, f"Outcome: {outcome.decision.value.replace('_', ' ')}. {outcome.reason}"
    )


async def safeguard(case_id: int, why: str) -> None:
    """Alert the DSL at once and wait for their safeguarding review (once per case)."""
    if await step_pending(case_id, StepKey.SAFEGUARDING_REVIEW):
        await alert_dsl_to_risk(case_id, why)
        await wait_for_person(case_id, StepKey.SAFEGUARDING_REVIEW)
