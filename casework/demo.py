"""The demo school `make run` seeds into an empty database."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.audit import record_event
from db.models import Person, Role, School

STAFF: tuple[tuple[str, str, Role, str], ...] = (
    ("Helen Okafor", "head@oakfield.example", Role.HEADTEACHER, "Headteacher"),
    ("Daniel Price", "dsl@oakfield.example", Role.DSL, "Designated safeguarding lead"),
    ("Priya Shah", "hr@oakfield.example", Role.HR, "HR adviser"),
    ("Graham Lowe", "auditor@oakfield.example", Role.AUDITOR, "Governor (audit)"),
    ("Amy Fletcher", "amy.fletcher@oakfield.example", Role.STAFF, "Year 6 teacher"),
    ("Tom Byrne", "tom.byrne@oakfield.example", Role.STAFF, "PE teacher"),
    ("Sara Novak", "sara.novak@oakfield.example", Role.STAFF, "Teaching assistant"),
    ("Margaret Ellis", "chair@oakfield.example", Role.CHAIR, "Chair of governors"),
)
FIRST = ("Alex", "Sam", "Jo", "Chris", "Pat", "Robin", "Kim", "Lee", "Jamie", "Morgan")
LAST = ("Hughes", "Patel", "Evans", "Khan", "Wright", "Murphy", "Clarke", "Ali", "Jones", "Walsh")


def seed_demo(session: Session, parents: int = 50) -> School | None:
    """Create the demo school unless any school exists; returns it, or None if skipped."""
    if session.scalars(select(School).limit(1)).first() is not None:
        return None
    school = School(
        name="Oakfield Primary School",
        address="1 Orchard Lane\nOakfield\nOK1 2AB",
        email="office@oakfield.example",
        phone="01234 567890",
    )
    session.add(school)
    session.flush()
    for name, email, role, title in STAFF:
        session.add(Person(school_id=school.id, name=name, email=email, role=role, job_title=title))
    for n in range(parents):
        name = f"{FIRST[n % 10]} {LAST[(n // 10) % 10]}"
        session.add(
            Person(
                school_id=school.id,
                name=name,
                role=Role.PARENT,
                email=f"parent{n + 1:02d}@families.example",
            )
        )
    session.flush()
    record_event(
        session,
        case_id=None,
        kind="school.seeded",
        data={"school": school.name, "staff": len(STAFF), "parents": parents},
    )
    return school
