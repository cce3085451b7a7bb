"""The requests of someone who may no longer hold them, passed on at once.

Disabling a person, taking a school off the ones they serve, or changing their role can
leave requests waiting on someone who may no longer answer them. In the same transaction,
each goes through the one hand-over primitive (`services.requests.hand_over`) to whoever
should hold it now (`services.holders.stand_in`): the old link stops working, the new holder
is emailed a fresh one, and the case record says who did it, from whom, to whom and why.

A request nobody can take is never lost, and never answered for anyone: it stays where it
is, flagged on the case page (`request.stranded`), and the case lead and those who may pass
the case's requests on are emailed, content-free, to find someone.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass

from core.access import Action, kept_after_role_change, may
from core.enums import AuditKind, EmailKind, HandOver, Role, Unheld
from core.procedures import procedure_for
from db.approvals import waiting_on
from db.audit import record_event
from db.cases import acting_head, facts_of, get_case
from db.models import Approval, Case, Person
from db.outbox import dedup_key
from db.people import NobodyInRole, actor_of, find_person, holder_of
from db.session import Session
from services.holders import stand_in, unheld
from services.notices import email_about_case
from services.requests import hand_over

# Requests a person chose someone for, rather than their role bringing them.
CHOSEN = frozenset({HandOver.DELEGATED, HandOver.REASSIGNED})


@dataclass(frozen=True)
class Moved:
    """What became of the requests waiting on someone who may no longer hold them: who took
    how many (person id, name, count), and how many nobody could take."""

    taken: tuple[tuple[int, str, int], ...] = ()
    kept: int = 0

    @property
    def passed(self) -> int:
        return sum(count for _, _, count in self.taken)

    def __add__(self, other: Moved) -> Moved:
        counts: dict[int, tuple[str, int]] = {}
        for person_id, name, count in (*self.taken, *other.taken):
            counts[person_id] = (name, counts.get(person_id, (name, 0))[1] + count)
        taken = tuple((pid, name, count) for pid, (name, count) in counts.items())
        return Moved(taken, self.kept + other.kept)


def pass_on_unheld(
    session: Session, person: Person, actor: Person | None, role_changed: bool = False
) -> Moved:
    """Hand on each request waiting on `person` that they may no longer hold; `role_changed`
    also weighs their new role (`core.access.kept_after_role_change`). `actor` is whoever
    changed them (None: the terminal)."""
    moved = Moved()
    for approval in waiting_on(session, person.id):
        case = get_case(session, approval.case_id)
        why = why_it_moves(session, case, approval, person, role_changed)
        if why is None:
            continue
        to = stand_in(session, case, approval, person)
        if to is None:
            strand(session, case, approval, person, actor, why)
            moved += Moved(kept=1)
            continue
        hand_over(session, case, approval, to, actor, why.value, AuditKind.REQUEST_PASSED_ON)
        moved += Moved(taken=((to.id, to.name, 1),))
    return moved


def why_it_moves(
    session: Session, case: Case, approval: Approval, person: Person, role_changed: bool
) -> Unheld | None:
    """Why the request may no longer stay with `person`; None if it may."""
    gone = unheld(session, case, person)
    if gone is not None or not role_changed:
        return gone
    owner = procedure_for(case.incident_type).step(approval.step_key).owner
    chosen = approval.handed_over in CHOSEN
    if kept_after_role_change(owner, person.role, facts_of(session, case), chosen):
        return None
    return Unheld.ROLE_CHANGED


def strand(
    session: Session,
    case: Case,
    approval: Approval,
    person: Person,
    actor: Person | None,
    why: Unheld,
) -> None:
    """Leave a request nobody can take where it is, flagged, and tell the case's leads."""
    record_event(
        session,
        case_id=case.id,
        kind=AuditKind.REQUEST_STRANDED,
        actor=actor,
        data={
            "step": approval.step_key,
            "with": person.name,
            "person_id": person.id,
            "why": why.value,
        },
    )
    title = procedure_for(case.incident_type).step(approval.step_key).title
    for lead in leads_of(session, case, person):
        email_about_case(
            session,
            case,
            lead,
            EmailKind.REQUEST_STRANDED,
            dedup_key=dedup_key(
                EmailKind.REQUEST_STRANDED, approval.id, approval.token_hash[:16], lead.id
            ),
            step_title=title,
        )


def leads_of(session: Session, case: Case, leaving: Person) -> list[Person]:
    """Who is told of a request nobody could take: the case lead, and those who may pass the
    case's requests on (the school's DSL, and the acting head), if they can be reached."""
    found: list[Person | None] = [
        find_person(session, case.lead_id),
        holder_of(session, case.school_id, Role.DSL),
    ]
    with suppress(NobodyInRole):  # a school with no head still has its lead told
        found.append(acting_head(session, case))
    facts = facts_of(session, case)
    told: dict[int, Person] = {}
    for person in found:
        if person is None or person.id == leaving.id or not person.active or not person.email:
            continue
        if person.id == case.lead_id or may(actor_of(session, person), Action.REASSIGN, facts):
            told[person.id] = person
    return list(told.values())


def said(taken: Sequence[tuple[str, int]], kept: int) -> list[str]:
    """What became of someone's requests, in plain words for whoever changed them: how many
    went to whom, and how many nobody could take; nothing of the cases."""
    lines = []
    taken = [(name, count) for name, count in taken if count > 0]
    passed = sum(count for _, count in taken)
    if passed == 1:
        lines.append(
            f"1 request waiting for them was passed on at once, to {taken[0][0]}, who has been "
            "emailed a new link; the old link no longer works."
        )
    elif passed:
        parts = ", ".join(f"{count} to {name}" for name, count in taken)
        lines.append(
            f"{passed} requests waiting for them were passed on at once: {parts}. Everyone "
            "who took one has been emailed a new link for it, and the old links no longer work."
        )
    if kept:
        it, stays = ("it", "it stays where it is") if kept == 1 else ("them", "they stay put")
        lines.append(
            f"{_requests(kept)} could not be passed on, because nobody else at the school can "
            f"take {it} yet: {stays}, marked on the case page, and the people running the "
            "case have been emailed."
        )
    return lines


def _requests(count: int) -> str:
    return f"{count} request" + ("" if count == 1 else "s")
