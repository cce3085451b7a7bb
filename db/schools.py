"""Organisations and their schools: the letterhead every letter carries, and school settings."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.enums import OrganisationKind, Phase
from db.models import Organisation, School


def first_school(session: Session) -> School | None:
    """The installation's first school: whether the installation has been set up at all."""
    return session.scalars(select(School).order_by(School.id).limit(1)).first()


def get_school(session: Session, school_id: int) -> School:
    school = session.get(School, school_id)
    if school is None:
        raise LookupError(f"there is no school {school_id}")
    return school


def find_school(session: Session, school_id: int) -> School | None:
    return session.get(School, school_id)


def all_schools(session: Session) -> list[School]:
    return list(session.scalars(select(School).order_by(School.id)))


def schools_in(session: Session, school_ids: frozenset[int] | set[int]) -> list[School]:
    """The given schools, in name order."""
    if not school_ids:
        return []
    return list(
        session.scalars(select(School).where(School.id.in_(school_ids)).order_by(School.name))
    )


def school_by_name(session: Session, name: str) -> School | None:
    found = select(School).where(School.name == name).order_by(School.id).limit(1)
    return session.scalars(found).first()


def add_organisation(session: Session, *, name: str, kind: OrganisationKind) -> Organisation:
    organisation = Organisation(name=name, kind=kind)
    session.add(organisation)
    session.flush()
    return organisation


def get_organisation(session: Session, organisation_id: int) -> Organisation:
    organisation = session.get(Organisation, organisation_id)
    if organisation is None:
        raise LookupError(f"there is no organisation {organisation_id}")
    return organisation


def organisations(session: Session) -> list[Organisation]:
    return list(session.scalars(select(Organisation).order_by(Organisation.name)))


def organisations_named(session: Session, name: str) -> list[Organisation]:
    """Every organisation with exactly this name (names are not unique), oldest first."""
    found = select(Organisation).where(Organisation.name == name).order_by(Organisation.id)
    return list(session.scalars(found))


def find_organisation(session: Session, organisation_id: int) -> Organisation | None:
    return session.get(Organisation, organisation_id)


def add_school(
    session: Session,
    *,
    organisation_id: int,
    name: str,
    address: str,
    email: str,
    phone: str,
    phase: Phase = Phase.PRIMARY,
) -> School:
    school = School(
        organisation_id=organisation_id,
        name=name,
        address=address,
        email=email,
        phone=phone,
        phase=phase,
    )
    session.add(school)
    session.flush()
    return school


def set_stock_response(session: Session, school_id: int, text: str) -> None:
    """The school's own reply to parents; an empty text means Casework's wording."""
    get_school(session, school_id).stock_response = text


def set_escalation_chains(
    session: Session, school_id: int, chains: dict[str, list[str]] | None
) -> None:
    """Who the school's unanswered requests go to next, by the kind of step (None: the
    defaults)."""
    get_school(session, school_id).escalation_chains = chains
