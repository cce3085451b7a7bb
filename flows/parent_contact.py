"""Procedure B: a parent contacts a member of staff on social media."""

from __future__ import annotations

from prefect import flow

from flows.steps.advice import send_stock_response
from flows.steps.approval import wait_for_person
from flows.steps.letters import send_parent_letter, skip_step
from flows.steps.lifecycle import close, step_outcome
from flows.steps.opening import opening_steps


@flow(name="parent_contact", persist_result=False)
async def parent_contact(case_id: int) -> str:
    """Discretion advice, the stock response, then the letter to all parents."""
    await opening_steps(case_id)
    await send_stock_response(case_id)
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
