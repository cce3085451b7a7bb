"""Benchmark: the case list, search and the case page with 100,000 cases.

`make bench` runs it (after the letter benchmark). It builds a throw-away database on SQLite
and, when CASEWORK_TEST_POSTGRES_URL or --url names a PostgreSQL server, on a PostgreSQL
database of its own (created, then dropped): two schools, 100,000 cases with their steps,
requests, audit events, search entries and named accounts, loaded with Core inserts
(db/bulk.py), and one case with 5,000 audit events. It then times, each many times, the
functions the pages themselves call:

- the case list's first page (api.views.case_rows): everything, open cases only, one type,
  and for a member of staff who sees only their own few cases;
- search (api.views.search_results) for an account and for a phrase, as the DSL and as staff;
- the case page's read model (api.views.case_view) for the case with 5,000 events;
- My work (api.views.work_items) for the headteacher, with the requests of the newest
  open cases still waiting (STILL_WAITING cases: tens of requests, as a real head has).

Each line gives p50 and p99 and the ratio of its p50 to the floor's: a primary-key read of
one case in the same kind of read-only transaction, measured in the same run, so a slow day
on this shared machine moves both. Goal: p99 under 200 ms for every line.

    python bench/case_queries.py [--cases 100000] [--rounds 200] [--backend sqlite|postgres]
                                 [--url postgresql://user@host/any]

Over 400 lines on purpose: a benchmark is read top to bottom as one script (the world it
builds, the lines it times, the table it prints), and splitting it would scatter that story.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

GOAL_MS = 200.0
EVENTS_ON_BIG_CASE = 5_000
HANDLES = 20_000  # accounts named: each about five times across the cases
PHRASE = "group chat after school"  # in about one report in a hundred
STILL_WAITING = 200  # the newest cases; a third of them are open and wait for someone
WORDS = (
    *("message", "follow", "request", "comment", "photo", "video", "story", "post", "reply"),
    *("account", "group", "night", "weekend", "screenshot", "teacher", "pupil", "parent"),
    *("class", "trip", "lesson", "homework", "friend", "rumour", "threat", "joke", "picture"),
    *("profile", "page", "blocked", "reported", "deleted", "shared"),
)
FIRST = ("Alex", "Sam", "Jo", "Chris", "Pat", "Robin", "Kim", "Lee", "Jamie", "Morgan", "Riley")
LAST = ("Hughes", "Patel", "Evans", "Khan", "Wright", "Murphy", "Clarke", "Ali", "Jones", "Moss")


@dataclass(frozen=True)
class Timing:
    name: str
    p50: float
    p99: float

    def line(self, floor: Timing) -> str:
        ok = "ok" if self.p99 < GOAL_MS else "MISSED"
        return (
            f"{self.name:<44}{self.p50:>9.1f}{self.p99:>9.1f}{self.p50 / floor.p50:>9.1f}x   {ok}"
        )


def timed(name: str, rounds: int, run: Callable[[], object]) -> Timing:
    """p50 and p99 of `run` in milliseconds, after a few untimed warm-up calls."""
    for _ in range(3):
        run()
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        run()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return Timing(
        name, statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.99))]
    )


# --- building the database ------------------------------------------------------------------


@dataclass
class World:
    school: int
    other_school: int
    head: int
    dsl: int
    staff: list[int]
    big_case: int
    handle: str


def build(cases: int, seed: int = 7) -> World:
    """Two schools and `cases` cases with everything a case has, loaded in bulk."""
    from sqlalchemy import select

    from casework.demo import seed_demo
    from db.models import Person, Role, School
    from db.people import add_person
    from db.schools import add_school
    from db.session import transaction

    rng = random.Random(seed)
    with transaction() as session:
        school = seed_demo(session, parents=0)
        assert school is not None
        other = add_school(
            session,
            organisation_id=school.organisation_id,
            name="Elmbridge",
            address="",
            email="",
            phone="",
        )
        session.flush()
        for n in range(200):
            add_person(
                session,
                school_id=school.id,
                name=f"{FIRST[n % 11]} {LAST[n // 11 % 10]} {n}",
                email=f"staff{n}@oakfield.example",
                role=Role.STAFF,
            )
        add_person(
            session,
            school_id=other.id,
            name="Omar Reid",
            email="head@elm.example",
            role=Role.HEADTEACHER,
        )
        session.flush()
        people = {p.email: p.id for p in session.scalars(select(Person))}
        other_id = session.scalars(select(School.id).where(School.name == "Elmbridge")).one()
        world = World(
            school=school.id,
            other_school=other_id,
            head=people["head@oakfield.example"],
            dsl=people["dsl@oakfield.example"],
            staff=[people[f"staff{n}@oakfield.example"] for n in range(200)],
            big_case=0,
            handle="",
        )
    load_cases(world, cases, rng)
    return world


def load_cases(world: World, cases: int, rng: random.Random) -> None:
    from core.enums import IncidentType
    from core.procedures import StepKind, procedure_for
    from db.audit import chain_heads, chained, next_seq
    from db.bulk import insert_many, refresh_statistics
    from db.models import Approval, AuditEvent, Case, CaseStep
    from db.search import CaseText, write_index
    from db.session import transaction

    kinds = list(IncidentType)
    start = datetime(2021, 9, 1, tzinfo=UTC)
    handles = [f"{rng.choice(FIRST).lower()}_{n}" for n in range(HANDLES)]
    rows, steps, texts = [], [], []
    approvals: list[dict[str, Any]] = []
    for case_id in range(1, cases + 1):
        kind = kinds[case_id % 4]
        school = world.other_school if case_id % 10 == 0 else world.school
        reporter = rng.choice(world.staff)
        handle = rng.choice(handles)
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(12, 40)))
        description = f"{words} {PHRASE} {words}" if case_id % 100 == 0 else words
        details = {
            "platform_key": "instagram",
            "pupil_name": f"{rng.choice(FIRST)} {rng.choice(LAST)}",
            "pupil_year_group": "Year 6",
            "pupil_reference": "",
            "pupil_account": f"@{handle}",
            "links": f"https://www.instagram.com/{handle}/",
        }
        opened = start + timedelta(minutes=25 * case_id)
        reference = f"CW-{opened:%Y}-{case_id:06d}"
        subject = rng.choice(world.staff) if kind == IncidentType.STAFF_CONDUCT else None
        rows.append(
            {
                "id": case_id,
                "school_id": school,
                "reference": reference,
                "incident_type": kind,
                "status": "open" if case_id % 3 == 0 else "closed",
                "reporter_id": reporter,
                "lead_id": world.dsl,
                "platform": "Instagram",
                "occurred_at": opened - timedelta(hours=3),
                "description": description,
                "details": details,
                "subject_id": subject if subject != reporter else None,
                "safeguarding": False,
                "procedure_version": procedure_for(kind).version,
                "outcome": "",
                "opened_at": opened,
            }
        )
        # The first two steps that ask a person: the head, then a member of staff, as the
        # flow leaves them (each asked step keeps its owner once done).
        asked = [s.key for s in procedure_for(kind).steps if s.kind != StepKind.SYSTEM][:2]
        owners = dict(zip(asked, (world.head, rng.choice(world.staff)), strict=False))
        for position, spec in enumerate(procedure_for(kind).steps, start=1):
            steps.append(
                {
                    "case_id": case_id,
                    "key": spec.key,
                    "position": position,
                    "title": spec.title,
                    "status": "done",
                    "owner_id": owners.get(spec.key),
                    "outcome": "",
                }
            )
        # Only the newest open cases still wait for anyone: a head has tens of requests
        # waiting, not thousands (every older one was answered a day after it was asked).
        waiting = rows[-1]["status"] == "open" and case_id > cases - STILL_WAITING
        for spec in procedure_for(kind).steps:
            if spec.key not in owners:
                continue
            answered = (
                {}
                if waiting
                else {
                    "decision": "approved" if spec.kind == StepKind.APPROVAL else "completed",
                    "decided_at": opened + timedelta(days=1),
                    "resumed_at": opened + timedelta(days=1),
                }
            )
            approvals.append(
                {
                    "case_id": case_id,
                    "step_key": spec.key,
                    "kind": "approval" if spec.kind == StepKind.APPROVAL else "task",
                    "approver_id": owners[spec.key],
                    "token_hash": uuid.uuid4().hex + uuid.uuid4().hex,
                    "requested_at": opened,
                    "expires_at": opened + timedelta(hours=72),
                    "reason": "",
                    "response": {},
                    "decided_ip": "",
                    "decided_user_agent": "",
                    "reminders_sent": 0,
                    **answered,
                }
            )
        texts.append(
            CaseText(
                case_id=case_id,
                reference=reference,
                label=procedure_for(kind).label,
                platform="Instagram",
                platform_key="instagram",
                description=description,
                details=details,
                people=(f"Reporter {reporter}", "Daniel Price"),
                subject="",
            )
        )
    # The newest case at the benchmark school (every tenth case is at the other one).
    world.big_case = max(n for n in range(cases - 10, cases + 1) if n % 10)
    world.handle = str(texts[cases // 2].details["pupil_account"])
    started = time.perf_counter()
    with transaction() as session:
        insert_many(session, Case, rows)
        insert_many(session, CaseStep, steps)
        insert_many(session, Approval, approvals)
        events = chained(audit_events(rows, world), chain_heads(session), next_seq(session))
        insert_many(session, AuditEvent, events)
        for chunk in range(0, len(texts), 2_000):
            write_index(session, texts[chunk : chunk + 2_000])
        refresh_statistics(session)
    print(
        f"  loaded {cases:,} cases, {len(steps):,} steps, {len(approvals):,} requests in"
        f" {time.perf_counter() - started:.0f} s",
        flush=True,
    )


def audit_events(cases: list[dict[str, Any]], world: World) -> Iterator[dict[str, Any]]:
    """Five events a case, and 5,000 on the big one, on each case's school's chain."""
    from db.audit import school_chain

    at = datetime(2021, 9, 1, tzinfo=UTC)
    for case in cases:
        count = EVENTS_ON_BIG_CASE if case["id"] == world.big_case else 5
        for n in range(count):
            yield {
                "case_id": case["id"],
                "chain": school_chain(case["school_id"]),
                "kind": "case.opened" if n == 0 else "step.completed",
                "actor": "system",
                "at": at,
                "data": {"step": "advise_staff", "outcome": f"note {n}"},
            }


# --- the measurements ------------------------------------------------------------------------


def measure(world: World, rounds: int) -> list[Timing]:
    from api.request_views import work_items
    from api.views import case_rows, case_view, search_results
    from core.search import parse_query
    from db.cases import CaseFilter, get_case
    from db.models import CaseStatus, IncidentType
    from db.people import actor_of, get_person
    from db.session import reading, transaction

    with reading() as session:
        head = actor_of(session, get_person(session, world.dsl))
        # The member of staff who reported the most: their list still holds only their own.
        staff = actor_of(session, get_person(session, world.staff[0]))
    ids = iter(random.Random(1).randrange(1, world.big_case) for _ in range(10**7))

    def floor() -> None:
        with reading() as session:
            get_case(session, next(ids))

    def listed(who: Any, shown: Any = CaseFilter()) -> Callable[[], object]:
        def run() -> object:
            with reading() as session:
                return case_rows(session, who, world.school, shown)

        return run

    def searched(who: Any, typed: str) -> Callable[[], object]:
        terms = parse_query(typed)

        def run() -> object:
            with reading() as session:
                return search_results(session, who, world.school, terms)

        return run

    def case_page() -> object:
        with transaction() as session:  # the page records that it was read, as it does live
            return case_view(session, head, world.big_case)

    found: list[Timing] = [timed("floor: one case by primary key", rounds, floor)]
    found += [
        timed("case list, first page (DSL)", rounds, listed(head)),
        timed("case list, open cases", rounds, listed(head, CaseFilter(CaseStatus.OPEN))),
        timed(
            "case list, one type",
            rounds,
            listed(head, CaseFilter(incident_type=IncidentType.ONLINE_ABUSE)),
        ),
        timed("case list, first page (member of staff)", rounds, listed(staff)),
        timed(f"search an account ({world.handle})", rounds, searched(head, world.handle)),
        timed(f'search a phrase ("{PHRASE}")', rounds, searched(head, PHRASE)),
        timed("search a phrase (member of staff)", rounds, searched(staff, PHRASE)),
        timed("search a common word (DSL)", rounds, searched(head, "screenshot")),
        timed(f"case page, {EVENTS_ON_BIG_CASE:,} audit events", rounds, case_page),
    ]

    def mine() -> object:
        with reading() as session:
            return work_items(session, get_person(session, world.head))

    found.append(timed("My work (headteacher)", rounds, mine))
    return found


# --- one backend ----------------------------------------------------------------------------


def run_backend(label: str, url: str, cases: int, rounds: int) -> list[Timing]:
    from core.settings import get_settings
    from db.migrate import upgrade

    os.environ["CASEWORK_DATABASE_URL"] = url
    get_settings.cache_clear()
    print(f"{label}: building {cases:,} cases ...", flush=True)
    upgrade(url)
    world = build(cases)
    print(f"{label}: timing ({rounds} runs each) ...", flush=True)
    return measure(world, rounds)


def postgres_database(admin_url: str) -> tuple[str, Callable[[], None]]:
    """A new database on the server `admin_url` names, and how to drop it."""
    from sqlalchemy import create_engine, text

    from db.session import dispose_engine

    def admin() -> Any:
        return create_engine(
            admin_url.replace("postgresql://", "postgresql+psycopg://", 1),
            isolation_level="AUTOCOMMIT",
        )

    name = f"cw_bench_{uuid.uuid4().hex[:10]}"
    engine = admin()
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"

    def drop() -> None:
        dispose_engine(url)
        dropper = admin()
        with dropper.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        dropper.dispose()

    return url, drop


def report(label: str, cases: int, timings: list[Timing]) -> None:
    floor = timings[0]
    line = "-" * 86
    print()
    print(f"{label}, {cases:,} cases: milliseconds, and p50 as a multiple of the floor's")
    print(line)
    print(f"{'query':<44}{'p50':>9}{'p99':>9}{'ratio':>10}   p99 < {GOAL_MS:.0f} ms")
    for timing in timings:
        print(timing.line(floor))
    print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--backend", choices=("sqlite", "postgres"))
    parser.add_argument("--url", default=os.environ.get("CASEWORK_TEST_POSTGRES_URL", ""))
    args = parser.parse_args()
    os.environ["PREFECT_API_URL"] = "http://127.0.0.1:9/api"  # no Prefect is involved
    backends = [args.backend] if args.backend else ["sqlite", "postgres"]
    with tempfile.TemporaryDirectory(prefix="casework-bench-") as tmp:
        os.environ["CASEWORK_VAR_DIR"] = str(Path(tmp) / "var")
        results = []
        if "sqlite" in backends:
            url = f"sqlite:///{Path(tmp) / 'casework.db'}"
            results.append(("SQLite", run_backend("SQLite", url, args.cases, args.rounds)))
        if "postgres" in backends and not args.url:
            print("PostgreSQL skipped: set CASEWORK_TEST_POSTGRES_URL or pass --url.")
        elif "postgres" in backends:
            url, drop = postgres_database(args.url)
            try:
                results.append(
                    ("PostgreSQL", run_backend("PostgreSQL", url, args.cases, args.rounds))
                )
            finally:
                drop()
    for label, timings in results:
        report(label, args.cases, timings)
    save_figures(args.cases, results)


def save_figures(cases: int, results: list[tuple[str, list[Timing]]]) -> None:
    """Each line's p99 against the floor's p99, for `make bench`'s table (bench/results.py)."""
    from results import Figure, save

    figures = []
    for label, timings in results:
        floor, lines = timings[0], timings[1:]
        figures += [
            Figure(
                "case_queries",
                f"{label}, {cases:,} cases: {timing.name}, p99",
                timing.p99,
                "ms",
                floor.p99,
                f"< {GOAL_MS:.0f} ms",
                timing.p99 < GOAL_MS,
            )
            for timing in lines
        ]
    save("case_queries", figures)


if __name__ == "__main__":
    main()
