"""Who may see a case: never its subject; HR only once escalated; the chair when acting."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.access import Actor
from core.settings import Settings
from db.cases import NewCase, acting_head, can_view, open_case, visible_cases
from db.models import Case, IncidentType, Person, Role, utcnow
from db.people import actor_of
from db.session import transaction


def people(session: Session) -> dict[str, Person]:
    rows = session.scalars(select(Person).where(Person.role != Role.PARENT))
    return {str(p.email).split("@")[0]: p for p in rows}


def actors(session: Session) -> dict[str, Actor]:
    return {name: actor_of(session, person) for name, person in people(session).items()}


def conduct_case(session: Session, subject: Person, reporter: Person, lead: Person) -> Case:
    return open_case(
        session,
        school_id=reporter.school_id,
        reporter=reporter,
        lead=lead,
        new=NewCase(
            IncidentType.STAFF_CONDUCT,
            "Facebook",
            utcnow(),
            "A report about a member of staff.",
            {},
            subject_id=subject.id,
        ),
    )


def test_the_subject_never_sees_their_case_and_hr_only_after_escalation(
    configured: Settings,
) -> None:
    with transaction(configured.database_url) as session:
        p = people(session)
        case = conduct_case(session, p["amy.fletcher"], p["tom.byrne"], p["dsl"])
        a = actors(session)
        assert not can_view(session, a["amy.fletcher"], case)
        assert can_view(session, a["tom.byrne"], case) and can_view(session, a["head"], case)
        assert not can_view(session, a["hr"], case)
        assert not can_view(session, a["chair"], case), "the chair acts only for the head"
        case.hr_escalated_at = utcnow()
        assert can_view(session, a["hr"], case)
        assert case not in visible_cases(session, a["amy.fletcher"])
        assert acting_head(session, case).email == "head@oakfield.example"


def test_a_case_about_the_head_goes_to_the_chair_and_is_hidden_from_the_head(
    configured: Settings,
) -> None:
    with transaction(configured.database_url) as session:
        p = people(session)
        case = conduct_case(session, p["head"], p["tom.byrne"], p["dsl"])
        a = actors(session)
        assert acting_head(session, case).email == "chair@oakfield.example"
        assert not can_view(session, a["head"], case)
        assert case not in visible_cases(session, a["head"])
        assert can_view(session, a["chair"], case) and can_view(session, a["auditor"], case)
