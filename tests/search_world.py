"""Cases for the search and linked-case tests: two schools, reports naming one account in
several spellings, and cases each person stands differently to."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from core.access import Actor
from db.approvals import open_request
from db.cases import NewCase, mark_waiting, open_case
from db.models import ApprovalKind, Case, IncidentType, Person, Role, utcnow
from db.people import actor_of, staff_by_email
from db.search import index_case
from db.session import Session, transaction
from forms.people import PersonForm, SchoolForm
from services.people import add_staff, create_school

OTHER_HEAD = "head@elmbridge.example"


@dataclass(frozen=True)
class World:
    """The ids of the cases made, by name."""

    cases: dict[str, int]


def who(session: Session, name: str) -> Person:
    """A person by the part of their address before the @ (`head@elmbridge` for the other
    school's head)."""
    email = OTHER_HEAD if name == "head@elmbridge" else f"{name}@oakfield.example"
    person = staff_by_email(session, email)
    assert person is not None, email
    return person


def actor(session: Session, name: str) -> Actor:
    return actor_of(session, who(session, name))


def report(
    session: Session,
    reporter: Person,
    kind: IncidentType,
    description: str,
    details: dict[str, Any],
    *,
    subject: Person | None = None,
    platform: str = "instagram",
) -> Case:
    """A case opened and indexed as intake does it."""
    lead = session.scalars(
        select(Person).where(Person.school_id == reporter.school_id, Person.role == Role.DSL)
    ).first()
    if lead is None or (subject is not None and lead.id == subject.id):
        lead = session.scalars(
            select(Person).where(
                Person.school_id == reporter.school_id, Person.role == Role.HEADTEACHER
            )
        ).one()
    case = open_case(
        session,
        school_id=reporter.school_id,
        reporter=reporter,
        lead=lead,
        new=NewCase(
            kind,
            platform.capitalize(),
            utcnow(),
            description,
            {"platform_key": platform, **details},
            subject_id=subject.id if subject else None,
        ),
    )
    index_case(session, case)
    return case


def pupil(name: str, account: str) -> dict[str, Any]:
    return {
        "pupil_name": name,
        "pupil_year_group": "Year 6",
        "pupil_reference": "",
        "pupil_account": account,
        "contact_continued": True,
    }


def build(url: str) -> World:
    """Oakfield's cases (and one at Elmbridge, with its own head) that the tests search."""
    with transaction(url) as session:
        elm = create_school(session, None, SchoolForm(name="Elmbridge Academy"), None)
        add_staff(
            session,
            elm.id,
            PersonForm(name="Omar Reid", email=OTHER_HEAD, role="headteacher"),
            None,
        )
        tom, sara, dsl = who(session, "tom.byrne"), who(session, "sara.novak"), who(session, "dsl")
        cases = {
            "tom's pupil": report(
                session,
                tom,
                IncidentType.PUPIL_CONTACT,
                "A pupil sent a follow request and messages late at night.",
                pupil("Jordan Miles", "@Jay_K"),
            ),
            "sara's abuse": report(
                session,
                sara,
                IncidentType.ONLINE_ABUSE,
                "Nasty comments about a colleague under the school's post.",
                {
                    "target": "staff",
                    "target_name": "Amy Fletcher",
                    "links": "https://www.instagram.com/jay_k/?igsh=abc123",
                    "responsible": "other_adult",
                    "responsible_name": "Casey Brook",
                    "responsible_email": "",
                },
            ),
            "tom's conduct": report(
                session,
                tom,
                IncidentType.STAFF_CONDUCT,
                "A colleague posted photos from the school trip.",
                {"subject_account": "amy.f.teaches"},
                subject=who(session, "amy.fletcher"),
            ),
            "elmbridge": report(
                session,
                who(session, "head@elmbridge"),
                IncidentType.PUPIL_CONTACT,
                "A pupil followed a teacher's private account.",
                pupil("Jordan Miles", "jay_k"),
            ),
            "dsl's on x": report(
                session,
                dsl,
                IncidentType.PUPIL_CONTACT,
                "Direct messages on X from a pupil.",
                pupil("Jordan Miles", "x.com/jay_k"),
                platform="x",
            ),
            "words only": report(
                session,
                dsl,
                IncidentType.PUPIL_CONTACT,
                "Pupils said jay k was in the group chat as well.",
                pupil("Riley Moss", ""),
            ),
        }
        return World({name: case.id for name, case in cases.items()})


def ask(url: str, case_id: int, name: str, step_key: str = "record_persistence") -> None:
    """Ask someone to record a step of a case: they may then see it."""
    with transaction(url) as session:
        person = who(session, name)
        open_request(
            session,
            case_id=case_id,
            step_key=step_key,
            kind=ApprovalKind.TASK,
            approver=person,
            ttl=timedelta(hours=72),
        )
        mark_waiting(session, case_id, step_key, person, None)
