"""The case page's read model of who holds each waiting request, and who it may go to.

Who may pass what to whom is asked of the access policy for each person listed, so the page
offers only choices the routes (api/routes/handover.py) will accept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from core.access import (
    Action,
    Actor,
    Candidate,
    CaseFacts,
    may,
    may_hand_on,
    step_owner,
    why_not_hold,
    why_not_lead,
)
from core.enums import AuditKind, HandOver
from core.procedures import DEADLINE_STEPS, procedure_for
from db.approvals import waiting_in
from db.audit import newest_by_step
from db.models import Approval, AuditEvent, Case, CaseStatus
from db.people import candidates_at, names_of
from db.session import Session


@dataclass(frozen=True)
class Holding:
    """One waiting request: who has it, why them, and whom this viewer may pass it to."""

    step_key: str
    step_title: str
    holder: str
    handed_over: HandOver | None
    handed_by: str  # who passed it on ("" for Casework's escalation)
    reason: str
    handed_at: datetime | None
    escalation_ended: datetime | None  # nobody further in the chain: it stays, unreminded
    stranded: str  # why its holder may no longer hold it, when nobody could take it; or ""
    deadline: bool  # a platform's deadline: never escalated
    choices: list[tuple[int, str]]  # empty: this viewer may not pass it on


@dataclass(frozen=True)
class HandOverView:
    holdings: list[Holding] = field(default_factory=list)
    lead_choices: list[tuple[int, str]] = field(default_factory=list)  # empty: no control


@dataclass(frozen=True)
class FormState:
    """A hand-over form sent back with problems: which one, what was typed, what is wrong."""

    prefix: str  # "lead", or "pass-<step key>"
    values: dict[str, str]
    errors: dict[str, str]  # by element id: "<prefix>-to", "<prefix>-reason"


def choice(person: Candidate) -> tuple[int, str]:
    return person.id, f"{person.name} ({person.role.label.lower()})"


def handover_view(session: Session, actor: Actor, case: Case, facts: CaseFacts) -> HandOverView:
    """The waiting requests this person may know of (all of them with the full record, else
    their own) and the hand-over controls the policy gives them."""
    if case.status != CaseStatus.OPEN:
        return HandOverView()
    full = may(actor, Action.VIEW_RECORD, facts)
    waiting = [a for a in waiting_in(session, case.id) if full or a.approver_id == actor.id]
    people = candidates_at(session, case.school_id)
    names = names_of(session, {a.approver_id for a in waiting} | _passers(waiting))
    procedure = procedure_for(case.incident_type)
    stranded = newest_by_step(session, case.id, AuditKind.REQUEST_STRANDED)
    holdings = []
    for approval in waiting:
        spec = procedure.step(approval.step_key)
        allowed = may_hand_on(actor, facts, approval.approver_id)
        owner = step_owner(spec.owner)
        holdings.append(
            Holding(
                step_key=approval.step_key,
                step_title=spec.title,
                holder=names.get(approval.approver_id, ""),
                handed_over=approval.handed_over,
                handed_by=names.get(approval.handed_over_by_id or 0, ""),
                reason=approval.handed_over_reason,
                handed_at=approval.handed_over_at,
                escalation_ended=approval.escalation_ended_at,
                stranded=still_stranded(approval, stranded.get(approval.step_key)),
                deadline=approval.step_key in DEADLINE_STEPS,
                choices=[
                    choice(p)
                    for p in people
                    if allowed and not why_not_hold(owner, p, facts, approval.approver_id, actor.id)
                ],
            )
        )
    leads = [choice(p) for p in people if not why_not_lead(p, facts)]
    return HandOverView(holdings, leads if may(actor, Action.REASSIGN, facts) else [])


def still_stranded(approval: Approval, event: AuditEvent | None) -> str:
    """Why the request's holder may no longer hold it, while it waits with them because
    nobody could take it (no link has gone out since: a new one went to whoever could)."""
    if event is None or event.data.get("person_id") != approval.approver_id:
        return ""
    return str(event.data.get("why", "")) if event.at >= approval.requested_at else ""


def _passers(waiting: list[Approval]) -> set[int]:
    """Who passed these requests on."""
    return {a.handed_over_by_id for a in waiting if a.handed_over_by_id is not None}
