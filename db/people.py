"""People: staff with roles, and parents/carers."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import ContactBy, Person, Role

# Who a report can be about, and who signs in: everyone but parents and auditors' oversight.
STAFF_ROLES = (Role.HEADTEACHER, Role.DSL, Role.HR, Role.STAFF)


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


def staff_by_email(session: Session, email: str) -> Person | None:
    """The active staff member who signs in with `email` (parents do not sign in)."""
    return session.scalars(
        select(Person)
        .where(
            func.lower(Person.email) == email.strip().lower(),
            Person.role != Role.PARENT,
            Person.active.is_(True),
        )
        .order_by(Person.id)
        .limit(1)
    ).first()


def holder_of(session: Session, school_id: int, role: Role) -> Person | None:
    """The first active person holding `role` at the school."""
    return session.scalars(
        select(Person)
        .where(Person.school_id == school_id, Person.role == role, Person.active.is_(True))
        .order_by(Person.id)
        .limit(1)
    ).first()


class NobodyInRole(LookupError):
    """The school has nobody in a role Casework needs: something to set up, not a bug."""


def headteacher(session: Session, school_id: int) -> Person:
    head = holder_of(session, school_id, Role.HEADTEACHER)
    if head is None:
        raise NobodyInRole("The school has no active headteacher in Casework.")
    return head


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
