"""The letter to all parents as a procedure's last decision."""

from __future__ import annotations

from flows.steps.approval import wait_for_person
from flows.steps.letters import send_parent_letter, skip_step
from flows.steps.lifecycle import step_outcome


async def parent_letter(case_id: int, if_not_sent: str) -> str:
    """Carry out the headteacher's decision on the letter; returns what happened, in words."""
    decision = await wait_for_person(case_id, "approve_parent_letter")
    if decision.approved:
        await send_parent_letter(case_id)
        return f"Letter to parents: {await step_outcome(case_id, 'send_parent_letter')}"
    reason = f"{if_not_sent}: {decision.reason}"
    await skip_step(case_id, "send_parent_letter", reason)
    return reason
