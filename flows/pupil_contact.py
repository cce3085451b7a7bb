"""Procedure A: a pupil contacts a member of staff on social media."""

from __future__ import annotations

from prefect import flow

from flows.steps.advice import advise_staff
from flows.steps.approval import wait_for_person
from flows.steps.evidence import save_evidence
from flows.steps.letters import send_parent_letter, skip_step
from flows.steps.lifecycle import close, notify_headteacher


@flow(name="pupil_contact", persist_result=False)
async def pupil_contact(case_id: int) -> str:
    """Each numbered step of the procedure, in order; human steps suspend the run."""
    await notify_headteacher(case_id)
    await save_evidence(case_id)
    await advise_staff(case_id)
    await wait_for_person(case_id, "record_persistence")
    await wait_for_person(case_id, "record_discipline")
    decision = await wait_for_person(case_id, "approve_parent_letter")
    if decision.approved:
        await send_parent_letter(case_id)
        return await close(case_id, "Procedure complete; letter sent to all parents.")
    await skip_step(
        case_id,
        "send_parent_letter",
        f"Headteacher decided not to send the letter: {decision.reason}",
    )
    return await close(
        case_id,
        f"Procedure complete; no letter to parents (headteacher's reason: {decision.reason}).",
    )
