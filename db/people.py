"""People: staff with roles, and parents/carers."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import Person, Role, School


def first_school(session: Session) -> School | None:
    return session.scalars(select(School).order_by(School.id).limit(1)).first()


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


def headteacher(session: Session, school_id: int) -> Person:
    head = holder_of(session, school_id, Role.HEADTEACHER)
    if head is None:
        raise LookupError("The school has no active headteacher in Casework.")
    return head


def case_lead(session: Session, school_id: int) -> Person:
    """The designated safeguarding lead runs cases; the headteacher does when there is none."""
    return holder_of(session, school_id, Role.DSL) or headteacher(session, school_id)


def parents_with_email(session: Session, school_id: int) -> list[Person]:
    return list(
        session.scalars(
            select(Person)
            .where(
                Person.school_id == school_id,
                Person.role == Role.PARENT,
                Person.active.is_(True),
                Person.email.is_not(None),
                Person.email != "",
            )
            .order_by(Person.id)
        )
    )
