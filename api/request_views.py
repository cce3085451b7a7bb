"""Read models for answering a request: the link's page (by emailed link or from My work)
and the list My work shows; split from api/views.py, which reads cases."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from core.enums import StepKey
from core.procedures import procedure_for
from db.approvals import my_work
from db.cases import get_case, steps_of
from db.models import Approval, Case, CaseStep, Person, utcnow
from db.people import actor_of, get_person
from db.schools import get_school
from db.session import Session, reading
from services.letters import letter_preview
from services.platform import platform_report


@dataclass
class LinkView:
    """Everything a link's page needs, read in one transaction."""

    approval: Approval
    case: Case
    approver: Person
    step_title: str
    label: str
    steps: list[CaseStep]
    preview: dict[str, Any]


def previews(session: Session, case: Case, approval: Approval) -> dict[str, Any]:
    """What the decision is about, shown exactly as it will go out."""
    if approval.step_key == StepKey.REPORT_TO_PLATFORM:
        return platform_report(case, get_school(session, case.school_id).name)
    if approval.step_key == StepKey.APPROVE_PARENT_LETTER:
        return letter_preview(session, case)
    return {}


def with_posted_wording(view: LinkView, values: dict[str, str]) -> LinkView:
    """The link's view with the letter as the approver has just edited it on the page.

    Every answer to the page (asking for a code, a refusal) then shows, and checks, the
    letter with their words; without posted wording the view is unchanged.
    """
    if view.approval.step_key != StepKey.APPROVE_PARENT_LETTER or "wording" not in values:
        return view
    with reading() as session:
        preview = letter_preview(session, view.case, values["wording"])
    return replace(view, preview=preview)


def link_view(session: Session, approval: Approval) -> LinkView:
    case = get_case(session, approval.case_id)
    procedure = procedure_for(case.incident_type)
    view = LinkView(
        approval=approval,
        case=case,
        approver=get_person(session, approval.approver_id),
        step_title=procedure.step(approval.step_key).title,
        label=procedure.label,
        steps=steps_of(session, case.id),
        preview=previews(session, case, approval),
    )
    session.expunge_all()
    return view


@dataclass(frozen=True)
class WorkItem:
    """One request waiting for the signed-in person, as My work lists it."""

    approval_id: int
    kind: str  # "approval" or "task"
    needed: str  # the step's title
    case_id: int
    reference: str
    label: str
    asked_at: datetime
    due_at: datetime
    overdue: bool


def work_items(session: Session, person: Person) -> list[WorkItem]:
    """What waits for this person, overdue first, then the soonest due."""
    now = utcnow()
    items = []
    for approval, case in my_work(session, actor_of(session, person)):
        procedure = procedure_for(case.incident_type)
        items.append(
            WorkItem(
                approval_id=approval.id,
                kind=approval.kind.value,
                needed=procedure.step(approval.step_key).title,
                case_id=case.id,
                reference=case.reference,
                label=procedure.label,
                asked_at=approval.requested_at,
                due_at=approval.expires_at,
                overdue=approval.expires_at <= now,
            )
        )
    return items
