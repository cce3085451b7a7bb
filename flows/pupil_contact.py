"""Procedure A: a pupil contacts a member of staff on social media."""

from __future__ import annotations

from prefect import flow

from core.enums import StepKey
from flows.steps.closing import close
from flows.steps.letters import parent_letter
from flows.steps.opening import opening_steps
from flows.steps.waiting import wait_for_person
from forms.tasks import DISCIPLINE_OUTCOMES
from services.requests import PersonOutcome


@flow(name="pupil_contact", persist_result=False)
async def pupil_contact(case_id: int) -> str:
    """Each numbered step of the procedure, in order; human steps suspend the run."""
    await opening_steps(case_id)
    await wait_for_person(case_id, StepKey.RECORD_PERSISTENCE)
    handled = await wait_for_person(case_id, StepKey.RECORD_DISCIPLINE)
    letter = await parent_letter(case_id, "The headteacher decided not to send the letter")
    return await close(case_id, f"{handled_text(handled)} {letter}")


def handled_text(handled: PersonOutcome) -> str:
    """How the school dealt with the pupil, first in the case's closing words: what
    happened matters more than the letter that followed."""
    kind = DISCIPLINE_OUTCOMES.get(str(handled.answer("outcome")), "Dealt with")
    notes = str(handled.answer("notes") or "").strip().rstrip(".")
    return f"{kind}: {notes}." if notes else f"{kind}."
