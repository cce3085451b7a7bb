"""Procedure C: harassment of staff, or offensive material about staff, a pupil or the school."""

from __future__ import annotations

from prefect import flow

from core.enums import Decision, StepKey
from core.rules import meeting_successful, needs_police_decision
from flows.steps.actions import escalate_to_hr, invite_to_meeting, produce_police_pack
from flows.steps.base import case_details, skip_step, step_pending
from flows.steps.closing import close
from flows.steps.letters import parent_letter
from flows.steps.opening import opening_steps
from flows.steps.waiting import wait_for_person
from forms.online_abuse import RESPONSIBLE
from services.requests import PersonOutcome

PUPIL_STEPS = (StepKey.RECORD_DISCIPLINE,)
STAFF_STEPS = (StepKey.ESCALATE_TO_HR, StepKey.RECORD_HR_ADVICE, StepKey.STAFF_OUTCOME)
ADULT_STEPS = (StepKey.INVITE_TO_MEETING, StepKey.RECORD_MEETING, StepKey.NEXT_ACTION)


@flow(name="online_abuse", persist_result=False)
async def online_abuse(case_id: int) -> str:
    """Steps 1-6 of the procedure with exactly the branches it names, then the ending."""
    await opening_steps(case_id)
    await report_to_platform(case_id)
    facts = await case_details(case_id)
    await consider_police(case_id, set(facts.get("content_kinds", [])))
    responsible = str(facts.get("responsible", "unknown"))
    if responsible == "current_pupil":
        await wait_for_person(case_id, StepKey.RECORD_DISCIPLINE)
    elif responsible == "staff_member":
        await staff_perpetrator(case_id)
    elif responsible in ("parent", "other_adult"):
        await adult_perpetrator(case_id)
    await skip_other_branches(case_id, responsible)
    # Only when the school chooses: the headteacher may well decide against it.
    await parent_letter(case_id, "The school chose not to write to parents")
    resolution = await wait_for_person(case_id, StepKey.RECORD_RESOLUTION)
    return await close(case_id, resolution_text(resolution))


async def report_to_platform(case_id: int) -> None:
    """Step 2: report, wait for the answer; no answer in time -> the helpline question."""
    await wait_for_person(case_id, StepKey.REPORT_TO_PLATFORM)
    answer = await wait_for_person(case_id, StepKey.PLATFORM_RESPONSE)
    if answer.decision == Decision.NO_RESPONSE:
        await wait_for_person(case_id, StepKey.HELPLINE_ESCALATION)
    else:
        await skip_step(case_id, StepKey.HELPLINE_ESCALATION, "The platform answered in time.")


async def consider_police(case_id: int, kinds: set[str]) -> None:
    """Step 3: racist, sexist, sexual or hate-crime content needs the head's police decision."""
    if not needs_police_decision(kinds):
        await skip_step(
            case_id,
            StepKey.POLICE_DECISION,
            "Not needed: the content is not racist, sexist, sexual or a hate crime.",
        )
        return
    decision = await wait_for_person(case_id, StepKey.POLICE_DECISION)
    if decision.decision == Decision.REFER:
        await refer_to_police(case_id)


async def refer_to_police(case_id: int) -> None:
    if await step_pending(case_id, StepKey.POLICE_REFERRAL):
        await produce_police_pack(case_id)
        await wait_for_person(case_id, StepKey.POLICE_REFERRAL)


async def staff_perpetrator(case_id: int) -> None:
    """Step 4 (staff): HR first, the head records HR's advice, then decides."""
    await escalate_to_hr(case_id)
    await wait_for_person(case_id, StepKey.RECORD_HR_ADVICE)
    await wait_for_person(case_id, StepKey.STAFF_OUTCOME)


async def adult_perpetrator(case_id: int) -> None:
    """Steps 5-6: meeting; if it fails or the material stays up, the head decides more."""
    await invite_to_meeting(case_id)
    meeting = await wait_for_person(case_id, StepKey.RECORD_MEETING)
    if meeting_successful(meeting.answer("held"), meeting.answer("agreed")):
        await skip_step(case_id, StepKey.NEXT_ACTION, "Not needed: the meeting was successful.")
        return
    decision = await wait_for_person(case_id, StepKey.NEXT_ACTION)
    if decision.decision == Decision.POLICE:
        await refer_to_police(case_id)


async def skip_other_branches(case_id: int, responsible: str) -> None:
    """Record, for every branch not taken, why it was not needed."""
    taken = {
        "current_pupil": PUPIL_STEPS,
        "staff_member": STAFF_STEPS,
        "parent": ADULT_STEPS,
        "other_adult": ADULT_STEPS,
    }.get(responsible, ())
    for key in (*PUPIL_STEPS, *STAFF_STEPS, *ADULT_STEPS):
        if key not in taken:
            await skip_step(
                case_id,
                key,
                f"Not needed: the person responsible is {who_is(responsible)}.",
            )
    await skip_step(case_id, StepKey.POLICE_REFERRAL, "No referral to the police was decided.")


def who_is(responsible: str) -> str:
    """The person responsible as the form offered them: "a current pupil", "not known"."""
    label = RESPONSIBLE.get(responsible, "not known")
    return label[0].lower() + label[1:]


def resolution_text(resolution: PersonOutcome) -> str:
    kind = str(resolution.answer("resolution") or "").replace("_", " ")
    return f"Closed ({kind}): {resolution.answer('reason')}"
