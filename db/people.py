"""People: staff with roles, and parents/carers."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, case, func, or_, select
from sqlalchemy.orm import Session

from core.access import STAFF_ROLES, Actor, Candidate
from db.models import ContactBy, Person, Role, Serves


def get_person(session: Session, person_id: int) -> Person:
    person = session.get(Person, person_id)
    if person is None:
        raise LookupError(f"there is no person {person_id}")
    return person


def find_person(session: Session, person_id: int | None) -> Person | None:
    return session.get(Person, person_id) if person_id else None


def names_of(session: Session, person_ids: set[int]) -> dict[int, str]:
    """Each person's name by id."""
    if not person_ids:
        return {}
    found = session.execute(select(Person.id, Person.name).where(Person.id.in_(person_ids)))
    return {person_id: name for person_id, name in found}


def names_at(session: Session, person_ids: set[int], school_ids: Iterable[int]) -> dict[int, str]:
    """The names of those of these people who belong to or serve one of these schools."""
    schools = list(school_ids)
    if not person_ids or not schools:
        return {}
    served = select(Serves.person_id).where(Serves.school_id.in_(schools))
    found = session.execute(
        select(Person.id, Person.name).where(
            Person.id.in_(person_ids), or_(Person.school_id.in_(schools), Person.id.in_(served))
        )
    )
    return {person_id: name for person_id, name in found}


def inactive_among(session: Session, person_ids: set[int]) -> frozenset[int]:
    """Which of these people have had their accounts disabled."""
    if not person_ids:
        return frozenset()
    found = session.scalars(
        select(Person.id).where(Person.id.in_(person_ids), Person.active.is_(False))
    )
    return frozenset(found)


def add_person(
    session: Session,
    *,
    school_id: int,
    name: str,
    role: Role,
    email: str | None,
    job_title: str = "",
) -> Person:
    person = Person(school_id=school_id, name=name, role=role, email=email, job_title=job_title)
    session.add(person)
    return person


def staff_of(session: Session, school_id: int) -> list[Person]:
    """The school's active staff, in name order: who a report can be about."""
    return list(
        session.scalars(
            select(Person)
            .where(
                Person.school_id == school_id,
                Person.role.in_(STAFF_ROLES),
                Person.active.is_(True),
            )
            .order_by(Person.name)
        )
    )


def _signing_in_as(email: str) -> Select[Person]:
    """Non-parents with this address (any case), oldest first."""
    return (
        select(Person)
        .where(func.lower(Person.email) == email.strip().lower(), Person.role != Role.PARENT)
        .order_by(Person.id)
        .limit(1)
    )


def staff_by_email(session: Session, email: str) -> Person | None:
    """The active staff member who signs in with `email` (parents do not sign in)."""
    return session.scalars(_signing_in_as(email).where(Person.active.is_(True))).first()


def serving(school_id: int) -> ColumnElement[bool]:
    """A filter: people of the school, and people who serve it from elsewhere."""
    served = select(Serves.person_id).where(Serves.school_id == school_id)
    return or_(Person.school_id == school_id, Person.id.in_(served))


def holder_of(session: Session, school_id: int, role: Role) -> Person | None:
    """The first active person holding `role` for the school: its own staff first."""
    return session.scalars(
        select(Person)
        .where(serving(school_id), Person.role == role, Person.active.is_(True))
        .order_by(case((Person.school_id == school_id, 0), else_=1), Person.id)
        .limit(1)
    ).first()


def schools_served(session: Session, person: Person) -> frozenset[int]:
    """The person's own school and every school they serve beyond it."""
    return frozenset({person.school_id, *served_schools_of(session, person.id)})


def actor_of(session: Session, person: Person) -> Actor:
    """The person as the access policy sees them."""
    return Actor(
        id=person.id,
        role=person.role,
        school_id=person.school_id,
        schools=schools_served(session, person),
    )


def candidate_of(session: Session, person: Person) -> Candidate:
    """The person as the policy sees someone work might be handed to."""
    return Candidate(
        id=person.id,
        name=person.name,
        role=person.role,
        schools=schools_served(session, person),
        active=person.active,
        reachable=bool(person.email),
    )


def candidates_at(session: Session, school_id: int) -> list[Candidate]:
    """Everyone but parents who belongs to or serves the school, as candidates, by name.

    Their schools are given as this one alone: it is the only one a hand-over here asks about.
    """
    # The five columns a candidate needs, not every person whole (the case page asks for a
    # school's staff each time it shows a waiting request).
    rows = session.execute(
        select(Person.id, Person.name, Person.role, Person.active, Person.email)
        .where(serving(school_id), Person.role != Role.PARENT)
        .order_by(Person.active.desc(), Person.name, Person.id)
    )
    return [
        Candidate(
            id=person_id,
            name=name,
            role=role,
            schools=frozenset({school_id}),
            active=active,
            reachable=bool(email),
        )
        for person_id, name, role, active, email in rows
    ]


def serve(session: Session, person_id: int, school_id: int) -> bool:
    """Let a person serve one more school; False if they already did."""
    if session.get(Serves, (person_id, school_id)) is not None:
        return False
    session.add(Serves(person_id=person_id, school_id=school_id))
    session.flush()
    return True


def stop_serving(session: Session, person_id: int, school_id: int) -> bool:
    row = session.get(Serves, (person_id, school_id))
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True


class NobodyInRole(LookupError):
    """The school has nobody in a role Casework needs: something to set up, not a bug."""


def headteacher(session: Session, school_id: int) -> Person:
    head = holder_of(session, school_id, Role.HEADTEACHER)
    if head is None:
        raise NobodyInRole("The school has no active headteacher in Casework.")
    return head


def hr_adviser(session: Session, school_id: int) -> Person:
    """The HR adviser who serves the school (its own, or the trust's or council's)."""
    hr = holder_of(session, school_id, Role.HR)
    if hr is None:
        raise NobodyInRole("The school has no HR adviser in Casework to escalate to.")
    return hr


def case_lead(session: Session, school_id: int) -> Person:
    """The designated safeguarding lead runs cases; the headteacher does when there is none."""
    return holder_of(session, school_id, Role.DSL) or headteacher(session, school_id)


def active_parents(session: Session, school_id: int) -> list[Person]:
    """Every active parent or carer of the school, in name order."""
    return list(
        session.scalars(
            select(Person)
            .where(
                Person.school_id == school_id,
                Person.role == Role.PARENT,
                Person.active.is_(True),
            )
            .order_by(Person.name, Person.id)
        )
    )


@dataclass(frozen=True)
class LetterRecipients:
    """The school's parents split by how a letter reaches them."""

    by_email: list[Person]
    by_post: list[Person]
    unreachable: list[Person]


def reached_by_email(parent: Person) -> bool:
    """Email when they asked for it, and also when email is the only way we have."""
    if not parent.email:
        return False
    return parent.contact_by == ContactBy.EMAIL or not parent.postal_address.strip()


def letter_recipients(session: Session, school_id: int) -> LetterRecipients:
    by_email: list[Person] = []
    by_post: list[Person] = []
    unreachable: list[Person] = []
    for parent in active_parents(session, school_id):
        if reached_by_email(parent):
            by_email.append(parent)
        elif parent.postal_address.strip():
            by_post.append(parent)
        else:
            unreachable.append(parent)
    return LetterRecipients(by_email, by_post, unreachable)


def people_of(session: Session, school_id: int) -> list[Person]:
    """Everyone but parents who belongs to or serves the school, active first, by name."""
    return list(
        session.scalars(
            select(Person)
            .where(serving(school_id), Person.role != Role.PARENT)
            .order_by(Person.active.desc(), Person.name, Person.id)
        )
    )


def person_at(session: Session, school_id: int, person_id: int) -> Person | None:
    """The person, if they belong to or serve the school (and are not a parent)."""
    person = session.get(Person, person_id)
    if person is None or person.role == Role.PARENT:
        return None
    if person.school_id == school_id:
        return person
    served = session.get(Serves, (person_id, school_id))
    return person if served is not None else None


def signer_by_email(session: Session, email: str) -> Person | None:
    """Whoever signs in with `email`, active or not (one address, one person)."""
    return session.scalars(_signing_in_as(email)).first()


def signers_by_email(session: Session, emails: Iterable[str]) -> dict[str, Person]:
    """`signer_by_email` for many addresses at once: found people by address, lower case."""
    wanted = sorted({email.strip().lower() for email in emails})
    found: dict[str, Person] = {}
    for start in range(0, len(wanted), 1000):  # well within every database's bound values
        chunk = wanted[start : start + 1000]
        people = session.scalars(
            select(Person)
            .where(func.lower(Person.email).in_(chunk), Person.role != Role.PARENT)
            .order_by(Person.id)
        )
        for person in people:
            found.setdefault((person.email or "").lower(), person)
    return found


def served_schools_of(session: Session, person_id: int) -> list[int]:
    """The schools a person serves beyond their own."""
    return list(session.scalars(select(Serves.school_id).where(Serves.person_id == person_id)))


def signers(session: Session) -> list[Person]:
    """Everyone who can sign in (active, not a parent, with an address), by name."""
    return list(
        session.scalars(
            select(Person)
            .where(
                Person.role != Role.PARENT,
                Person.active.is_(True),
                Person.email.is_not(None),
            )
            .order_by(Person.name)
        )
    )
