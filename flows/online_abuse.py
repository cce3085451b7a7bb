"""Procedure C: harassment of staff, or offensive material about staff, a pupil or the school."""

from __future__ import annotations

from prefect import flow, task

from core.rules import meeting_successful, needs_police_decision
from db.cases import get_case
from db.models import Decision
from db.session import transaction
from flows.steps.approval import PersonOutcome, step_pending, wait_for_person
from flows.steps.context import STEP_OPTIONS
from flows.steps.ending import parent_letter
from flows.steps.escalation import escalate_to_hr, produce_police_pack
from flows.steps.letters import skip_step
from flows.steps.lifecycle import close
from flows.steps.meeting import invite_to_meeting
from flows.steps.opening import opening_steps

PUPIL_STEPS = ("record_discipline",)
STAFF_STEPS = ("escalate_to_hr", "record_hr_advice", "staff_outcome")
ADULT_STEPS = ("invite_to_meeting", "record_meeting", "next_action")


@task(name="read_facts", **STEP_OPTIONS)
async def read_facts(case_id: int) -> dict[str, object]:
    """The reported facts the branches depend on."""
    with transaction() as session:
        details = dict(get_case(session, case_id).details or {})
    return {
        "kinds": set(details.get("content_kinds", [])),
        "responsible": details.get("responsible", "unknown"),
    }


@flow(name="online_abuse", persist_result=False)
async def online_abuse(case_id: int) -> str:
    """Steps 1-6 of the procedure with exactly the branches it names, then the ending."""
    await opening_steps(case_id)
    await report_to_platform(case_id)
    facts = await read_facts(case_id)
    await consider_police(case_id, set(facts["kinds"]))  # type: ignore[call-overload]
    responsible = str(facts["responsible"])
    if responsible == "current_pupil":
        await wait_for_person(case_id, "record_discipline")
    elif responsible == "staff_member":
        await staff_perpetrator(case_id)
    elif responsible in ("parent", "other_adult"):
        await adult_perpetrator(case_id)
    await skip_other_branches(case_id, responsible)
    # Only when the school chooses: the headteacher may well decide against it.
    await parent_letter(case_id, "The school chose not to write to parents")
    resolution = await wait_for_person(case_id, "record_resolution")
    return await close(case_id, resolution_text(resolution))


async def report_to_platform(case_id: int) -> None:
    """Step 2: report, wait for the answer; no answer in time -> the helpline question."""
    await wait_for_person(case_id, "report_to_platform")
    answer = await wait_for_person(case_id, "platform_response")
    if answer.decision == Decision.NO_RESPONSE:
        await wait_for_person(case_id, "helpline_escalation")
    else:
        await skip_step(case_id, "helpline_escalation", "The platform answered in time.")


async def consider_police(case_id: int, kinds: set[str]) -> None:
    """Step 3: racist, sexist, sexual or hate-crime content needs the head's police decision."""
    if not needs_police_decision(kinds):
        await skip_step(
            case_id,
            "police_decision",
            "Not needed: the content is not racist, sexist, sexual or a hate crime.",
        )
        return
    decision = await wait_for_person(case_id, "police_decision")
    if decision.decision == Decision.REFER:
        await refer_to_police(case_id)


async def refer_to_police(case_id: int) -> None:
    if await step_pending(case_id, "police_referral"):
        await produce_police_pack(case_id)
        await wait_for_person(case_id, "police_referral")


async def staff_perpetrator(case_id: int) -> None:
    """Step 4 (staff): HR first, the head records HR's advice, then decides."""
    await escalate_to_hr(case_id)
    await wait_for_person(case_id, "record_hr_advice")
    await wait_for_person(case_id, "staff_outcome")


async def adult_perpetrator(case_id: int) -> None:
    """Steps 5-6: meeting; if it fails or the material stays up, the head decides more."""
    await invite_to_meeting(case_id)
    meeting = await wait_for_person(case_id, "record_meeting")
    if meeting_successful(meeting.answer("held"), meeting.answer("agreed")):
        await skip_step(case_id, "next_action", "Not needed: the meeting was successful.")
        return
    decision = await wait_for_person(case_id, "next_action")
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
                f"Not needed: the person responsible is {responsible.replace('_', ' ')}.",
            )
    await skip_step(case_id, "police_referral", "No referral to the police was decided.")


def resolution_text(resolution: PersonOutcome) -> str:
    kind = str(resolution.answer("resolution") or "").replace("_", " ")
    return f"Closed ({kind}): {resolution.answer('reason')}"
