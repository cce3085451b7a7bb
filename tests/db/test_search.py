"""Search and linked cases in the database, on SQLite and PostgreSQL: the access policy
filters in the query, each person finds a case only by what they may read of it, the best
match comes first, and the index follows corrections and the migration's backfill."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command

from core.search import parse_query
from core.settings import Settings
from db.cases import get_case
from db.linked import earlier_linked_count, linked_cases, named_before
from db.migrate import alembic_config, upgrade
from db.models import Case
from db.people import actor_of, get_person
from db.search import Hits, index_case, search_cases
from db.session import Session, make_engine, transaction
from tests.search_world import World, actor, ask, build


def found(session: Session, name: str, query: str, world: World) -> list[str]:
    """The names of the cases `name` finds, best first, at the school they look at."""
    person = actor(session, name)
    ids = {case_id: label for label, case_id in world.cases.items()}
    hits = search_cases(session, person, person.school_id, parse_query(query))
    return [ids[hit.case.id] for hit in hits.found]


def test_each_person_finds_only_what_they_may_see_best_match_first(configured: Settings) -> None:
    world = build(configured.database_url)
    with transaction(configured.database_url) as session:
        assert sorted(found(session, "head", "Jordan", world)) == [
            "dsl's on x",
            "tom's pupil",
        ], "the other school's Jordan is never found"
        assert found(session, "tom.byrne", "Jordan", world) == ["tom's pupil"]
        assert found(session, "sara.novak", "Jordan", world) == []
        assert found(session, "hr", "Jordan", world) == [], "HR sees escalated cases only"
        assert found(session, "governor", "Jordan", world) == []
        assert found(session, "head@elmbridge", "Jordan", world) == ["elmbridge"]
        assert found(session, "auditor", "Casey Brook", world) == ["sara's abuse"]
        assert found(session, "dsl", "Casey", world) == ["sara's abuse"]
        # The subject of a case never finds it, by any of its words.
        assert found(session, "amy.fletcher", "photos school trip", world) == []
        assert found(session, "tom.byrne", "photos school trip", world) == ["tom's conduct"]

        # The reporter's view of a case leaves out who it is about and the full report's
        # answers, so they cannot find it by those either, nor see them in a snippet.
        assert found(session, "tom.byrne", "Amy Fletcher", world) == []
        assert found(session, "tom.byrne", "amy.f.teaches", world) == []
        assert sorted(found(session, "head", "Amy Fletcher", world)) == [
            "sara's abuse",
            "tom's conduct",
        ]
        assert found(session, "sara.novak", "Casey", world) == []
        [hit] = search_cases(session, actor(session, "tom.byrne"), 1, parse_query("photos")).found
        assert "Amy" not in " ".join(hit.entry.fields()[i][1] for i in range(4))

        # The best match comes first: an account named as one outranks the same words in a
        # description.
        ranked = found(session, "head", "@jay_k", world)
        assert ranked[-1] == "words only" and len(ranked) == 4
        assert set(ranked[:3]) == {"tom's pupil", "sara's abuse", "dsl's on x"}
        # Any spelling of the account finds the same cases.
        assert set(found(session, "head", "https://m.instagram.com/Jay_K/", world)) == set(ranked)
        reference = get_case(session, world.cases["words only"]).reference
        assert found(session, "head", reference, world)[0] == "words only"
        assert found(session, "head", "Rile", world) == ["words only"], "a prefix finds words"
        assert found(session, "head", "messages late night", world) == ["tom's pupil"]


def test_when_more_match_than_are_ranked_the_newest_come_first(configured: Settings) -> None:
    world = build(configured.database_url)
    names = {case_id: name for name, case_id in world.cases.items()}
    terms = parse_query("@jay_k")

    def shown(hits: Hits) -> list[str]:
        return [names[hit.case.id] for hit in hits.found]

    with transaction(configured.database_url) as session:
        head = actor(session, "head")
        # No more match than are ranked: every one is ranked, best first, and counted.
        best = search_cases(session, head, head.school_id, terms, limit=3, ranked=4)
        assert (best.matched, best.newest) == (4, False)
        assert set(shown(best)) == {"tom's pupil", "sara's abuse", "dsl's on x"}
        # More match: the newest are shown, newest first, and "more than 3" are counted.
        newest = search_cases(session, head, head.school_id, terms, limit=3, ranked=3)
        assert (newest.matched, newest.newest) == (3, True)
        assert shown(newest) == ["words only", "dsl's on x", "sara's abuse"]
        # Only the cases a person may see are counted: Tom may see one of the four.
        tom = actor(session, "tom.byrne")
        mine = search_cases(session, tom, tom.school_id, terms, ranked=1)
        assert (shown(mine), mine.matched, mine.newest) == (["tom's pupil"], 1, False)


def test_linked_cases_are_the_ones_the_viewer_may_see_and_read_and_follow_corrections(
    configured: Settings,
) -> None:
    url = configured.database_url
    world = build(url)
    ask(url, world.cases["tom's pupil"], "sara.novak")
    with transaction(url) as session:
        first = get_case(session, world.cases["tom's pupil"])
        second = get_case(session, world.cases["sara's abuse"])

        def linked(name: str, case: Case) -> list[int]:
            return [found.case_id for found in linked_cases(session, actor(session, name), case)]

        # Same account on Instagram: linked for the head. On X it is another account, and
        # the other school's case is never shown.
        assert linked("head", first) == [second.id]
        assert linked("head", second) == [first.id]
        assert earlier_linked_count(session, actor(session, "head"), second) == 1
        assert earlier_linked_count(session, actor(session, "head"), first) == 0
        # Whoever may see them: the quick look before any reader's count.
        assert named_before(session, second) and not named_before(session, first)
        # Tom cannot see Sara's case; Sara may see Tom's (she was asked on it) but the account
        # is only in the full report of her own case, which the case page does not show her.
        assert linked("tom.byrne", first) == []
        assert linked("sara.novak", first) == []
        assert linked("sara.novak", second) == []
        assert earlier_linked_count(session, actor(session, "sara.novak"), second) == 0

    # A corrected report, indexed again, is found by its new words and links anew.
    with transaction(url) as session:
        case = get_case(session, world.cases["tom's pupil"])
        case.details = {**case.details, "pupil_name": "Jordan Niles", "pupil_account": "@jn_22"}
        index_case(session, case)
    with transaction(configured.database_url) as session:
        assert "tom's pupil" not in found(session, "head", "Miles", world)
        assert found(session, "head", "Niles", world) == ["tom's pupil"]
        assert found(session, "head", "jn_22", world) == ["tom's pupil"]
        assert linked_cases(session, actor(session, "head"), case) == []


def test_the_migration_indexes_cases_that_already_exist(db_url: str) -> None:
    command.upgrade(alembic_config(db_url), "0008")
    engine = make_engine(db_url)
    at = "2026-11-20 09:00:00"
    try:
        with engine.begin() as connection:
            for statement in (
                "INSERT INTO organisations (id, name, kind, created_at)"
                " VALUES (1, 'Trust', 'trust', :at)",
                "INSERT INTO schools (id, organisation_id, name, phase, address, email, phone,"
                " stock_response, created_at) VALUES (1, 1, 'Oak', 'primary', '', '', '', '', :at)",
                "INSERT INTO people (id, school_id, name, email, role, job_title, active,"
                " created_at, year_groups, contact_by, postal_address) VALUES"
                " (1, 1, 'Helen Okafor', 'head@oak.example', 'headteacher', '', true, :at, '',"
                " 'email', '')",
            ):
                connection.execute(sa.text(statement), {"at": at})
            named = ((1, "Robin Ash", "@Jay_K"), (2, "Kim Oakes", "instagram.com/jay_k?igsh=1"))
            for n, pupil, account in named:
                connection.execute(
                    sa.text(
                        "INSERT INTO cases (id, school_id, reference, incident_type, status,"
                        " reporter_id, lead_id, platform, occurred_at, description, details,"
                        " safeguarding, procedure_version, outcome, opened_at) VALUES (:id, 1,"
                        " :ref, 'pupil_contact', 'open', 1, 1, 'Instagram', :at, 'Messages.',"
                        " :details, false, '1', '', :at)"
                    ),
                    {
                        "id": n,
                        "ref": f"CW-2026-0000{n}",
                        "at": at,
                        "details": f'{{"pupil_name": "{pupil}", "pupil_account": "{account}",'
                        ' "platform_key": "instagram"}',
                    },
                )
    finally:
        engine.dispose()
    upgrade(db_url)
    with transaction(db_url) as session:
        head = actor_of(session, get_person(session, 1))
        hits = search_cases(session, head, 1, parse_query("Kim Oakes"))
        assert [hit.case.reference for hit in hits.found] == ["CW-2026-00002"]
        second = get_case(session, 2)
        assert [c.reference for c in linked_cases(session, head, second)] == ["CW-2026-00001"]
