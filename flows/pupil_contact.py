"""Procedure A: a pupil contacts a member of staff on social media."""

from __future__ import annotations

from prefect import flow

from flows.steps.approval import wait_for_person
from flows.steps.ending import parent_letter
from flows.steps.lifecycle import close
from flows.steps.opening import opening_steps


@flow(name="pupil_contact", persist_result=False)
async def pupil_contact(case_id: int) -> str:
    """Each numbered step of the procedure, in order; human steps suspend the run."""
    await opening_steps(case_id)
    await wait_for_person(case_id, "record_persistence")
    await wait_for_person(case_id, "record_discipline")
    outcome = await parent_letter(case_id, "The headteacher decided not to send the letter")
    return await close(case_id, f"Procedure complete. {outcome}")
