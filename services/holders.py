"""Who holds a waiting request, and whether they may still answer it.

- `responsible_for`: whom the procedure asks for a kind of step today.
- `unheld`: why a person may no longer answer a request on a case (their account is
  disabled, or the access policy no longer lets them see the case); None while they may.

The link, My work and replies read these, so they agree on who may answer what.
"""

from __future__ import annotations

from core.access import Action, may, step_owner
from core.enums import Role, Unheld
from core.procedures import procedure_for
from db.cases import acting_head, facts_of
from db.models import Approval, Case, Person
from db.people import actor_of, get_person, hr_adviser
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
