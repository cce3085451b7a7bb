"""The first steps of every procedure."""

from __future__ import annotations

from flows.steps.advice import advise_staff
from flows.steps.approval import step_pending, wait_for_person
from flows.steps.evidence import save_evidence
from flows.steps.lifecycle import notify_headteacher
from flows.steps.safeguarding import REFERRAL


async def opening_steps(case_id: int) -> None:
    """Tell the head, refer sexual images of a child first, seal the evidence, advise."""
    await notify_headteacher(case_id)
    if await step_pending(case_id, REFERRAL):
        await wait_for_person(case_id, REFERRAL)
    await save_evidence(case_id)
    await advise_staff(case_id)
