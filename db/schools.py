"""Schools: the letterhead every letter carries and the settings a school edits."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import School


def first_school(session: Session) -> School | None:
    """The installation's first school (one school per installation, for now)."""
    return session.scalars(select(School).order_by(School.id).limit(1)).first()


def get_school(session: Session, school_id: int) -> School:
    school = session.get(School, school_id)
    if school is None:
        raise LookupError(f"there is no school {school_id}")
    return school


def add_school(session: Session, *, name: str, address: str, email: str, phone: str) -> School:
    school = School(name=name, address=address, email=email, phone=phone)
    session.add(school)
    session.flush()
    return school


def set_stock_response(session: Session, school_id: int, text: str) -> None:
    """The school's own reply to parents; an empty text means Casework's wording."""
    get_school(session, school_id).stock_response = text
