"""The SQL that filters every list and search says what the access policy says, case by case.

`db.cases.may_clause` is built from the policy's own rules; this checks the result against
`core.access.may` for every person who signs in, on every kind of case the policy tells
apart, on both databases.
"""

from __future__ import annotations

from sqlalchemy import select

from core.access import Action, may
from core.settings import Settings
from db.cases import CaseFilter, case_list_page, facts_for, mark_waiting
from db.models import Case, CaseStatus, IncidentType, Person, Role, utcnow
from db.people import actor_of
from db.session import transaction
from db.visibility import may_clause
from tests.search_world import ask, build, report, who


def more_shapes(url: str, world_cases: dict[str, int]) -> tuple[int, int]:
    """A case about the head (the chair stands in), one escalated to HR, and people asked."""
    with transaction(url) as session:
        about_head = report(
            session,
            who(session, "sara.novak"),
            IncidentType.STAFF_CONDUCT,
            "The headteacher posted about a pupil.",
            {},
            subject=who(session, "head"),
        )
        escalated = report(
            session,
            who(session, "amy.fletcher"),
            IncidentType.ONLINE_ABUSE,
            "Comments about a member of staff.",
            {"links": "@someone"},
            subject=who(session, "tom.byrne"),
        )
        escalated.hr_escalated_at = utcnow()
        escalated.status = CaseStatus.CLOSED
        mark_waiting(session, about_head.id, "investigate", who(session, "governor"), None)
        shapes = about_head.id, escalated.id
    ask(url, world_cases["tom's pupil"], "sara.novak")
    return shapes


def test_the_query_filter_agrees_with_the_policy_for_everyone(configured: Settings) -> None:
    url = configured.database_url
    world = build(url)
    about_head, escalated = more_shapes(url, world.cases)
    with transaction(url) as session:

        def sees(name: str, case_id: int) -> bool:
            query = select(Case.id).where(
                Case.id == case_id, may_clause(actor_of(session, who(session, name)))
            )
            return session.scalar(query) is not None

        # The shapes are the ones the policy tells apart.
        assert sees("chair", about_head) and not sees("head", about_head)
        assert sees("governor", about_head), "asked to record a step"
        assert sees("hr", escalated) and not sees("tom.byrne", escalated)
        assert sees("sara.novak", world.cases["tom's pupil"]), "asked about it"

        cases = list(session.scalars(select(Case)))
        facts = facts_for(session, cases)
        people = session.scalars(select(Person).where(Person.role != Role.PARENT)).all()
        assert len(people) >= 12 and len(cases) >= 8
        for person in people:
            actor = actor_of(session, person)
            for action in (Action.VIEW_CASE, Action.VIEW_RECORD, Action.WORK_CASE):
                by_policy = {c.id for c in cases if may(actor, action, facts[c.id])}
                by_query = set(session.scalars(select(Case.id).where(may_clause(actor, action))))
                assert by_query == by_policy, (person.email, action)
            listed, more = case_list_page(session, actor, person.school_id)
            seen = {c.id for c in cases if may(actor, Action.VIEW_CASE, facts[c.id])}
            assert {c.id for c in listed} == {
                c.id for c in cases if c.id in seen and c.school_id == person.school_id
            }
            assert not more
            closed, _ = case_list_page(
                session, actor, person.school_id, CaseFilter(status=CaseStatus.CLOSED)
            )
            assert all(c.status == CaseStatus.CLOSED and c.id in seen for c in closed)

        # The list comes a page at a time, newest first.
        head = actor_of(session, who(session, "head"))
        first, more = case_list_page(session, head, head.school_id, per_page=2)
        second, more_after = case_list_page(session, head, head.school_id, page=2, per_page=2)
        rest, last = case_list_page(session, head, head.school_id, page=3, per_page=2)
        assert more and more_after and not last
        ids = [c.id for c in first + second + rest]
        assert ids == sorted(ids, reverse=True) and len(ids) == 6, "all but the case about the head"
        kind = CaseFilter(incident_type=IncidentType.ONLINE_ABUSE)
        of_kind, _ = case_list_page(session, head, head.school_id, kind)
        assert [c.incident_type for c in of_kind] == [IncidentType.ONLINE_ABUSE] * 2
