"""Who holds a waiting request: whether they may still answer it, and who takes it when not.

- `responsible_for`: whom the procedure asks for a kind of step today.
- `unheld`: why a person may no longer answer a request on a case (their account is
  disabled, or the access policy no longer lets them see the case); None while they may.
- `stand_in`: who should hold a request its holder can no longer keep: the person the
  procedure would ask today, then the school's escalation chain for its kind of step (the
  role the step belongs to first); never the case's subject, a disabled or unreachable
  person, or anyone who does not serve the school (`core.access.may_take_escalation`).

The link, My work, replies, reminders and the passing on of a leaver's requests all read
these, so they agree on who may answer what.
"""

from __future__ import annotations

from collections.abc import Iterator

from core.access import Action, may, may_take_escalation, step_owner
from core.chains import chains_of
from core.enums import Role, Unheld
from core.procedures import procedure_for
from db.cases import acting_head, facts_of
from db.models import Approval, Case, Person
from db.people import NobodyInRole, actor_of, candidate_of, get_person, holder_of, hr_adviser
from db.schools import get_school
from db.session import Session


def owner_of(case: Case, approval: Approval) -> Role:
    """Whose kind of step the request is: the head's, HR's or the case lead's."""
    return step_owner(procedure_for(case.incident_type).step(approval.step_key).owner)


def responsible_for(session: Session, case: Case, owner: Role | None) -> Person:
    """The headteacher's steps go to the acting head, HR's to the school's HR adviser, the
    rest to the case lead."""
    if owner == Role.HEADTEACHER:
        return acting_head(session, case)
    if owner == Role.HR:
        return hr_adviser(session, case.school_id)
    return get_person(session, case.lead_id)


def unheld(session: Session, case: Case, person: Person) -> Unheld | None:
    """Why `person` may no longer answer a request on `case`; None while they may.

    Being asked lets someone see the case, so this is the access policy's answer for them:
    it fails when they no longer serve the case's school (or are otherwise shut out)."""
    if not person.active:
        return Unheld.DISABLED
    actor = actor_of(session, person)
    if may(actor, Action.VIEW_CASE, facts_of(session, case)):
        return None
    return Unheld.NO_ACCESS if case.school_id in actor.schools else Unheld.NOT_SERVING


def asked_today(session: Session, case: Case, approval: Approval) -> Person | None:
    """Whom the procedure would ask for this request's step now; None if the school has
    nobody in that role."""
    spec = procedure_for(case.incident_type).step(approval.step_key)
    try:
        return responsible_for(session, case, spec.owner)
    except NobodyInRole:
        return None


def stand_in(session: Session, case: Case, approval: Approval, holder: Person) -> Person | None:
    """Who should hold a request that `holder` can no longer keep; None if nobody can."""
    owner = owner_of(case, approval)
    facts = facts_of(session, case)
    chain = chains_of(get_school(session, case.school_id).escalation_chains)[owner]

    def in_turn() -> Iterator[Person | None]:
        yield asked_today(session, case, approval)
        for role in (owner, *chain):
            yield holder_of(session, case.school_id, role)

    for person in in_turn():
        if person is not None and may_take_escalation(
            candidate_of(session, person), facts, holder.id
        ):
            return person
    return None
