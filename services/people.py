"""People and schools as administrators set them up: every change audited.

The web pages (api/routes/people.py) and the `casework people` and `casework schools`
commands both come here, so a person added either way is added the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core.enums import AuditKind, OrganisationKind, Phase, Role
from core.progress import Progress, report
from db.audit import record_event
from db.identity import forget_totp
from db.models import Person, School
from db.people import (
    add_person,
    serve,
    served_schools_of,
    signer_by_email,
    signers_by_email,
    stop_serving,
)
from db.schools import add_organisation, add_school, get_school
from db.session import Session
from db.sessions import end_sessions_of
from forms.people import PersonForm, PersonLine, SchoolForm
from services.leavers import Moved, pass_on_unheld


class PeopleProblem(ValueError):
    """Something an administrator asked for that cannot be done, said in plain words: one
    problem, or one for each line of a file that cannot be imported."""

    def __init__(self, *problems: str) -> None:
        super().__init__(" ".join(problems))
        self.problems = list(problems)


def _record(session: Session, kind: AuditKind, actor: Person | None, **data: Any) -> None:
    """Audit a change on the chain of the school it concerns: the one named, else the
    person's own."""
    school_id = data.get("school_id")
    if school_id is None and "person_id" in data:
        person = session.get(Person, data["person_id"])
        school_id = person.school_id if person is not None else None
    record_event(session, case_id=None, kind=kind, actor=actor, data=data, school_id=school_id)


def add_staff(session: Session, school_id: int, form: PersonForm, actor: Person | None) -> Person:
    """Add a person to a school; an address already in use is refused."""
    if signer_by_email(session, form.email) is not None:
        raise PeopleProblem(f"{form.email} already belongs to someone in Casework.")
    person = add_person(
        session,
        school_id=school_id,
        name=form.name,
        role=form.chosen_role,
        email=form.email,
        job_title=form.job_title,
    )
    session.flush()
    _record(
        session,
        AuditKind.PERSON_ADDED,
        actor,
        person_id=person.id,
        school_id=school_id,
        role=person.role.value,
    )
    return person


@dataclass(frozen=True)
class Changed:
    """What an edit changed, as field -> [before, after], and what became of the requests
    waiting on the person if their role changed. True when anything changed."""

    fields: dict[str, list[str]]
    requests: Moved = field(default_factory=Moved)

    def __bool__(self) -> bool:
        return bool(self.fields)


def change_person(
    session: Session, person: Person, form: PersonForm, actor: Person | None
) -> Changed:
    """Apply an edit (audited). A new role passes on, at once, the waiting requests it no
    longer lets them hold (services/leavers.py)."""
    if form.email != (person.email or "").lower():
        holder = signer_by_email(session, form.email)
        if holder is not None and holder.id != person.id:
            raise PeopleProblem(f"{form.email} already belongs to someone in Casework.")
    wanted = {
        "name": form.name,
        "email": form.email,
        "role": form.chosen_role.value,
        "job_title": form.job_title,
    }
    changes: dict[str, list[str]] = {}
    for name, value in wanted.items():
        before = getattr(person, name)
        before_text = before.value if isinstance(before, Role) else str(before or "")
        if before_text != value:
            changes[name] = [before_text, value]
    if not changes:
        return Changed(changes)
    person.name, person.email, person.job_title = form.name, form.email, form.job_title
    person.role = form.chosen_role
    _record(session, AuditKind.PERSON_CHANGED, actor, person_id=person.id, changes=changes)
    if "role" not in changes:
        return Changed(changes)
    return Changed(changes, pass_on_unheld(session, person, actor, role_changed=True))


@dataclass(frozen=True)
class Disabled:
    """What disabling a person did: sessions ended, and what became of their requests."""

    sessions_ended: int
    requests: Moved = field(default_factory=Moved)


def disable(session: Session, person: Person, actor: Person | None, reason: str) -> Disabled:
    """Stop a person signing in, end their sessions, and pass on at once every request
    waiting on them (flagged where nobody can take it: services/leavers.py)."""
    if actor is not None and actor.id == person.id:
        raise PeopleProblem("You cannot disable your own account; ask another administrator.")
    if not person.active:
        return Disabled(0)
    person.active = False
    ended = end_sessions_of(session, person.id)
    _record(
        session,
        AuditKind.PERSON_DISABLED,
        actor,
        person_id=person.id,
        reason=reason,
        sessions_ended=ended,
    )
    return Disabled(ended, pass_on_unheld(session, person, actor))


def reset_authenticator(session: Session, person: Person, actor: Person | None) -> bool:
    """Forget a person's authenticator app (lost or replaced phone) and sign them out; they
    set up a new one at their next sign-in. False if they had none."""
    if not forget_totp(session, person.id):
        return False
    ended = end_sessions_of(session, person.id)
    _record(
        session, AuditKind.AUTHENTICATOR_RESET, actor, person_id=person.id, sessions_ended=ended
    )
    return True


def enable(session: Session, person: Person, actor: Person | None) -> None:
    if person.active:
        return
    person.active = True
    _record(session, AuditKind.PERSON_ENABLED, actor, person_id=person.id)


def set_serving(
    session: Session, person: Person, school_ids: set[int], actor: Person | None
) -> Moved:
    """Make the schools a person serves beyond their own exactly `school_ids` (audited); the
    requests of a school they no longer serve are passed on at once (services/leavers.py)."""
    current = set(served_schools_of(session, person.id))
    wanted = school_ids - {person.school_id}
    for school_id in sorted(wanted - current):
        serve(session, person.id, school_id)
    for school_id in sorted(current - wanted):
        stop_serving(session, person.id, school_id)
    if wanted != current:
        _record(
            session,
            AuditKind.PERSON_CHANGED,
            actor,
            person_id=person.id,
            changes={"serves": [sorted(current), sorted(wanted)]},
        )
    return pass_on_unheld(session, person, actor) if current - wanted else Moved()


def import_people(
    session: Session,
    school_id: int,
    rows: list[PersonLine],
    actor: Person | None,
    progress: Progress | None = None,
) -> tuple[int, int]:
    """Add new people and update known ones from a checked file; returns (added, updated).

    Every line is looked up before anything is written: an address that belongs to another
    school's person stops the whole file, each such line named. The caller's transaction
    makes the rest all or nothing too. `progress` hears how many people have been saved.
    """
    known = signers_by_email(session, (row.person.email for row in rows))
    elsewhere = [
        f"Line {row.line}: {row.person.email} belongs to another school in Casework."
        for row in rows
        if row.person.email in known and known[row.person.email].school_id != school_id
    ]
    if elsewhere:
        raise PeopleProblem(*elsewhere)
    added = updated = 0
    for done, row in enumerate(rows, start=1):
        person = known.get(row.person.email)
        if person is None:
            add_staff(session, school_id, row.person, actor)
            added += 1
        elif change_person(session, person, row.person, actor):
            updated += 1
        report(progress, "saving", done, len(rows))
    _record(
        session,
        AuditKind.PEOPLE_IMPORTED,
        actor,
        school_id=school_id,
        added=added,
        updated=updated,
    )
    return added, updated


def create_school(
    session: Session, organisation_id: int | None, form: SchoolForm, actor: Person | None
) -> School:
    """A new school, in the given organisation or (with none) an organisation of its own."""
    if organisation_id is None:
        organisation_id = add_organisation(
            session, name=form.name, kind=OrganisationKind.SINGLE_SCHOOL
        ).id
    school = add_school(
        session,
        organisation_id=organisation_id,
        name=form.name,
        address=form.address,
        email=form.email,
        phone=form.phone,
        phase=Phase(form.phase),
    )
    _record(
        session,
        AuditKind.SCHOOL_CREATED,
        actor,
        school_id=school.id,
        organisation_id=organisation_id,
        name=school.name,
    )
    return school


def change_school(session: Session, school_id: int, form: SchoolForm, actor: Person | None) -> None:
    school = get_school(session, school_id)
    changes = {
        name: [str(getattr(school, name)), value]
        for name, value in form.model_dump().items()
        if str(getattr(school, name)) != value
    }
    if not changes:
        return
    school.name, school.address, school.email = form.name, form.address, form.email
    school.phone, school.phase = form.phone, Phase(form.phase)
    _record(session, AuditKind.SCHOOL_CHANGED, actor, school_id=school_id, changes=changes)
