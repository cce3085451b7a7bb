"""Read models for answering a request: the link's page (by emailed link or from My work)
and the list My work shows; split from api/views.py, which reads cases."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from core.access import Action, may, may_download
from core.enums import StepKey
from core.procedures import procedure_for
from db.approvals import my_work
from db.cases import facts_of, get_case, steps_of
from db.evidence import evidence_of
from db.models import Approval, Case, CaseStep, Evidence, Person, utcnow
from db.people import actor_of, get_person, names_of
from db.schools import get_school
from db.session import Session, reading
from forms.answers import answers_of, people_in
from services.letters import letter_preview
from services.packs import Document, documents_of
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
    answers: list[tuple[str, str]] = field(default_factory=list)  # the report, in words
    evidence: list[Evidence] = field(default_factory=list)  # the files the approver may open
    documents: list[Document] = field(default_factory=list)  # packs, if they see the record
    opens_case: bool = False  # whether the approver may open the case page itself


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
    """The request's page: what is asked, with what the decision needs, as far as the person
    asked may see it (the report, the evidence, the packs)."""
    case = get_case(session, approval.case_id)
    procedure = procedure_for(case.incident_type)
    approver = get_person(session, approval.approver_id)
    actor, facts = actor_of(session, approver), facts_of(session, case)
    view = LinkView(
        approval=approval,
        case=case,
        approver=approver,
        step_title=procedure.step(approval.step_key).title,
        label=procedure.label,
        steps=steps_of(session, case.id),
        preview=previews(session, case, approval),
        answers=answers_of(case, names_of(session, people_in(case))),
        evidence=[
            e for e in evidence_of(session, case.id) if may_download(actor, facts, e.uploaded_by_id)
        ],
        documents=documents_of(session, case) if may(actor, Action.VIEW_RECORD, facts) else [],
        opens_case=may(actor, Action.VIEW_CASE, facts),
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
