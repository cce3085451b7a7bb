"""Procedure A: a pupil contacts a member of staff on social media."""

from __future__ import annotations

from prefect import flow

from flows.steps.approval import wait_for_person
from flows.steps.letters import send_parent_letter, skip_step
from flows.steps.lifecycle import close, step_outcome
from flows.steps.opening import opening_steps


@flow(name="pupil_contact", persist_result=False)
async def pupil_contact(case_id: int) -> str:
    """Each numbered step of the procedure, in order; human steps suspend the run."""
    await opening_steps(case_id)
    await wait_for_person(case_id, "record_persistence")
    await wait_for_person(case_id, "record_discipline")
    decision = await wait_for_person(case_id, "approve_parent_letter")
    if decision.approved:
        await send_parent_letter(case_id)
        letter = await step_outcome(case_id, "send_parent_letter")
        return await close(case_id, f"Procedure complete. Letter to parents: {letter}")
    await skip_step(
        case_id,
        "send_parent_letter",
        f"Headteacher decided not to send the letter: {decision.reason}",
    )
    return await close(
        case_id,
        f"Procedure complete; no letter to parents (headteacher's reason: {decision.reason}).",
    )
