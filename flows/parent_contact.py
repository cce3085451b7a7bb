"""Procedure B: a parent contacts a member of staff on social media."""

from __future__ import annotations

from prefect import flow

from flows.steps.actions import send_stock_response
from flows.steps.closing import close
from flows.steps.letters import parent_letter
from flows.steps.opening import opening_steps


@flow(name="parent_contact", persist_result=False)
async def parent_contact(case_id: int) -> str:
    """Discretion advice, the stock response, then the letter to all parents."""
    await opening_steps(case_id)
    await send_stock_response(case_id)
    outcome = await parent_letter(case_id, "The headteacher decided not to send the letter")
    return await close(
        case_id, f"The member of staff had the school's advice and its standard reply. {outcome}"
    )
