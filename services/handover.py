"""Working a case off the happy path: a new case lead, a request passed on, an escalation.

All three move waiting requests through one primitive, `services.requests.hand_over`. Who
may take what is the access policy's (`core.access.why_not_hold`, `why_not_lead`); the
escalation chains are the school's (`core.chains`). The caller checks that the person asking
may do it at all (a route through `core.access.may_hand_on` or `Action.REASSIGN`).
"""

from __future__ import annotations

from datetime import datetime

from core.access import may_take_escalation, why_not_hold, why_not_lead
from core.chains import chains_of, next_roles
from core.enums import AuditKind, Role
from core.templating import local_time
from db.approvals import end_escalation, waiting_in
from db.audit import first_for_step, record_event
from db.cases import facts_of, set_lead
from db.ids import MAX_ID
from db.models import Approval, Case, Person
from db.people import candidate_of, find_person, get_person, holder_of
from db.schools import get_school
from db.session import Session
from services.holders import owner_of
from services.requests import hand_over


class HandOverRefused(ValueError):
    """A hand-over the rules do not allow, in plain words; nothing has been changed."""


def staff_member(session: Session, person_id: int) -> Person:
    """The person chosen on a form, if Casework knows them as staff."""
    person = find_person(session, person_id) if 0 < person_id <= MAX_ID else None
    if person is None or person.role == Role.PARENT:
        raise HandOverRefused("Choose someone from the list.")
    return person


def pass_on(
    session: Session, case: Case, approval: Approval, to_id: int, actor: Person, reason: str
) -> Person:
    """Delegate a waiting request to another eligible person; returns them."""
    to = staff_member(session, to_id)
    problem = why_not_hold(
        owner_of(case, approval),
        candidate_of(session, to),
        facts_of(session, case),
        holder_id=approval.approver_id,
        actor_id=actor.id,
    )
    if problem:
        raise HandOverRefused(problem)
    hand_over(session, case, approval, to, actor, reason, AuditKind.REQUEST_DELEGATED)
    return to


def reassign_lead(session: Session, case: Case, to_id: int, actor: Person, reason: str) -> Person:
    """Make someone else the case lead; the requests the old lead had because they led the
    case go with it (new links for the new lead, the old ones stop working)."""
    to = staff_member(session, to_id)
    problem = why_not_lead(candidate_of(session, to), facts_of(session, case))
    if problem:
        raise HandOverRefused(problem)
    before = get_person(session, case.lead_id)
    set_lead(session, case, to)
    record_event(
        session,
        case_id=case.id,
        kind=AuditKind.CASE_LEAD_CHANGED,
        actor=actor,
        data={"from": before.name, "to": to.name, "reason": reason},
    )
    for approval in waiting_in(session, case.id):
        if approval.approver_id == before.id and owner_of(case, approval) == Role.DSL:
            hand_over(session, case, approval, to, actor, reason, AuditKind.REQUEST_REASSIGNED)
    return to


def held_since(session: Session, case: Case, approval: Approval) -> datetime:
    """When the request reached the person who holds it now."""
    if approval.handed_over_at is not None:
        return approval.handed_over_at
    asked = first_for_step(session, case.id, AuditKind.requested(approval.kind), approval.step_key)
    return asked or approval.requested_at


def next_in_chain(
    session: Session, case: Case, approval: Approval, holder: Person
) -> Person | None:
    """The first person after the holder in the school's chain who can take the request:
    nobody who is the case's subject, disabled, unreachable or missing."""
    owner = owner_of(case, approval)
    chain = chains_of(get_school(session, case.school_id).escalation_chains)[owner]
    facts = facts_of(session, case)
    for role in next_roles(owner, chain, holder.role):
        person = holder_of(session, case.school_id, role)
        if person is None:
            continue
        if may_take_escalation(candidate_of(session, person), facts, holder.id):
            return person
    return None


def escalate(session: Session, case: Case, approval: Approval) -> bool:
    """Send a request nobody has answered to the next person in the school's chain; True if
    it moved. At the end of the chain it stays with its holder, recorded once: it is never
    answered on anyone's behalf."""
    holder = get_person(session, approval.approver_id)
    since = held_since(session, case, approval)
    to = next_in_chain(session, case, approval, holder)
    if to is None:
        end_escalation(session, approval)
        record_event(
            session,
            case_id=case.id,
            kind=AuditKind.REQUEST_ESCALATION_ENDED,
            data={"step": approval.step_key, "with": holder.name, "since": since.isoformat()},
        )
        return False
    reason = f"No answer from {holder.name} since {local_time(since)}."
    hand_over(session, case, approval, to, None, reason, AuditKind.REQUEST_ESCALATED)
    return True
