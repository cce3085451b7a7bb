"""Benchmark: verifying a large audit trail, and audit writes from many workers.

`make bench` runs it. It builds a throw-away database (SQLite, and PostgreSQL when
CASEWORK_TEST_POSTGRES_URL or --url names a server) with 20 schools, 20,000 cases and
1,000,000 audit events chained exactly as `db.audit.record_event` chains them (50 events a
case, the cases of a school interleaved on its chain), then measures:

- `casework audit verify`, run as the command a person runs (a new process: imports, every
  chain re-hashed in ranges over the cores, compared with the last checkpoint, a new
  checkpoint signed): wall time and events per second. Goal: under 5 s. The floor, measured
  in the same run, is one process reading every event's row the way verify reads them,
  without hashing anything; `verify_chain` in one process is shown against it too.
- PostgreSQL only: 8 writer processes, each committing one audit event a transaction for a
  few seconds, first each at a school of its own, then all at the same school, against the
  floor of one writer alone. Goal: writers at unrelated schools do not queue behind each
  other, so 8 writers at 8 schools commit more than 8 writers at one school.

    python bench/audit_verify.py [--events 1000000] [--cases 20000] [--schools 20]
                                 [--backend sqlite|postgres] [--url postgresql://...]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from case_queries import postgres_database  # noqa: E402  (bench/ is the script's folder)
from results import Figure, save  # noqa: E402

GOAL_SECONDS = 5.0
WRITERS = 8
WRITE_SECONDS = 4.0


def build(url: str, schools: int, cases: int, events: int) -> list[int]:
    """Schools, one DSL each, `cases` cases spread over them and `events` chained events;
    returns the schools' ids."""
    from core.enums import IncidentType, OrganisationKind, Role
    from db.audit import chained, next_seq
    from db.bulk import insert_many, refresh_statistics
    from db.migrate import upgrade
    from db.models import AuditEvent, Case
    from db.people import add_person
    from db.schools import add_organisation, add_school
    from db.session import transaction

    upgrade(url)
    with transaction(url) as session:
        council = add_organisation(session, name="Council", kind=OrganisationKind.TRUST)
        ids, leads = [], []
        for n in range(schools):
            school = add_school(
                session,
                organisation_id=council.id,
                name=f"School {n + 1}",
                address="",
                email="",
                phone="",
            )
            session.flush()
            lead = add_person(
                session,
                school_id=school.id,
                name=f"Lead {n + 1}",
                email=f"dsl{n + 1}@school{n + 1}.example",
                role=Role.DSL,
            )
            session.flush()
            ids.append(school.id)
            leads.append(lead.id)
    opened = datetime(2024, 9, 1, tzinfo=UTC)
    rows = [
        {
            "id": n + 1,
            "school_id": ids[n % schools],
            "reference": f"CW-2024-{n + 1:06d}",
            "incident_type": IncidentType.PUPIL_CONTACT,
            "status": "closed",
            "reporter_id": leads[n % schools],
            "lead_id": leads[n % schools],
            "platform": "Instagram",
            "occurred_at": opened,
            "description": "A generated case.",
            "details": {},
            "safeguarding": False,
            "procedure_version": "1",
            "outcome": "",
            "opened_at": opened,
        }
        for n in range(cases)
    ]
    started = time.perf_counter()
    with transaction(url) as session:
        insert_many(session, Case, rows)
        stream = chained(generated_events(rows, events), {}, next_seq(session))
        insert_many(session, AuditEvent, stream)
        refresh_statistics(session)
    print(f"  loaded {events:,} events in {time.perf_counter() - started:.0f} s", flush=True)
    return ids


def generated_events(cases: list[dict[str, Any]], events: int) -> Iterator[dict[str, Any]]:
    """`events` events, round by round over every case, so a school's chain interleaves its
    cases as a busy school's does."""
    from db.audit import school_chain

    at = datetime(2024, 9, 1, tzinfo=UTC)
    for n in range(events):
        case = cases[n % len(cases)]
        yield {
            "case_id": case["id"],
            "chain": school_chain(case["school_id"]),
            "kind": "step.completed",
            "actor": "Lead (dsl)",
            "at": at + timedelta(seconds=n),
            "data": {"step": "advise_staff", "outcome": "The member of staff was advised."},
        }


def read_every_event(url: str) -> float:
    """The floor: every event's row read as verify reads it (one pass in id order through
    the driver's cursor, in this one process), with no hashing."""
    from db.audit import id_range, stretch_rows
    from db.session import reading

    started = time.perf_counter()
    with reading(url) as session:
        low, high = id_range(session)
        for _ in stretch_rows(session, low, high + 1):
            pass
    return time.perf_counter() - started


def verify_command(url: str, var: Path) -> tuple[float, str]:
    """`casework audit verify` as a person runs it: its wall time and what it printed."""
    env = {**os.environ, "CASEWORK_DATABASE_URL": url, "CASEWORK_VAR_DIR": str(var)}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "casework.cli", "audit", "verify"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    took = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"verify failed: {done.stdout}{done.stderr}")
    return took, done.stdout.strip()


def writer(url: str, school_id: int, ready: Any, counts: Any, slot: int) -> None:
    """One writer process: once every writer is ready, an audit event a transaction at
    `school_id` for WRITE_SECONDS."""
    from db.audit import record_event
    from db.session import transaction

    with transaction(url) as session:  # connected and warm before the clock starts
        record_event(session, case_id=None, kind="bench.warmed", school_id=school_id)
    ready.wait()
    until, done = time.monotonic() + WRITE_SECONDS, 0
    while time.monotonic() < until:
        with transaction(url) as session:
            record_event(session, case_id=None, kind="bench.written", school_id=school_id)
        done += 1
    counts[slot] = done


def writes_per_second(url: str, schools: list[int]) -> float:
    """Events committed per second by one writer process per entry of `schools`."""
    context = multiprocessing.get_context("spawn")
    counts = context.Array("i", len(schools))
    ready = context.Barrier(len(schools))
    processes = [
        context.Process(target=writer, args=(url, school, ready, counts, n))
        for n, school in enumerate(schools)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    return sum(counts[n] for n in range(len(schools))) / WRITE_SECONDS


def run_backend(
    label: str, url: str, args: argparse.Namespace, var: Path
) -> tuple[list[str], list[Figure]]:
    from core.settings import get_settings
    from db.audit import verify_chain
    from db.session import dispose_engine, reading

    os.environ["CASEWORK_DATABASE_URL"] = url
    os.environ["CASEWORK_VAR_DIR"] = str(var)  # its own checkpoint log and key
    get_settings.cache_clear()
    print(f"{label}: building {args.events:,} events ...", flush=True)
    schools = build(url, args.schools, args.cases, args.events)
    floor = min(read_every_event(url) for _ in range(2))
    with reading(url) as session:
        started = time.perf_counter()
        report = verify_chain(session)
        in_process = time.perf_counter() - started
    assert report.ok and report.checked == args.events, report
    dispose_engine(url)
    took, said = verify_command(url, var)
    ok = "ok" if took < GOAL_SECONDS else "MISSED"
    lines = [
        f"{label}: {args.events:,} events, {args.cases:,} cases, {args.schools} schools",
        f"  floor: read every event (no hashing)    {floor:7.2f} s",
        f"  verify_chain, in process                {in_process:7.2f} s"
        f"  {args.events / in_process:>10,.0f} events/s  {in_process / floor:5.1f}x floor",
        f"  casework audit verify (new process)     {took:7.2f} s"
        f"  {args.events / took:>10,.0f} events/s  {took / floor:5.1f}x floor"
        f"   goal < {GOAL_SECONDS:.0f} s: {ok}",
        f"    it said: {said}",
    ]
    events = f"{args.events:,} events"
    figures = [
        Figure(
            "audit_verify",
            f"{label}: casework audit verify, {events}",
            took,
            "s",
            floor,
            f"< {GOAL_SECONDS:.0f} s",
            took < GOAL_SECONDS,
        ),
        Figure(
            "audit_verify",
            f"{label}: verify_chain in process, {events}",
            in_process,
            "s",
            floor,
            "",
            None,
        ),
    ]
    if url.startswith("postgresql"):
        print(f"{label}: concurrent writers ...", flush=True)
        one = writes_per_second(url, schools[:1])
        apart = writes_per_second(url, [schools[n % len(schools)] for n in range(WRITERS)])
        together = writes_per_second(url, [schools[0]] * WRITERS)
        lines += [
            f"  floor: 1 writer                         {one:7.0f} events/s",
            f"  {WRITERS} writers at {WRITERS} schools                {apart:7.0f} events/s"
            f"  {apart / one:5.1f}x floor",
            f"  {WRITERS} writers at 1 school                 {together:7.0f} events/s"
            f"  {together / one:5.1f}x floor",
            f"  schools apart / together: {apart / together:.1f}x"
            f"   goal > 1: {'ok' if apart > together else 'MISSED'}",
        ]
        figures += [
            Figure(
                "audit_verify",
                f"{label}: {WRITERS} writers at {WRITERS} schools (floor: 1 writer)",
                apart,
                "events/s",
                one,
                f"> {WRITERS} writers at 1 school",
                apart > together,
            ),
            Figure(
                "audit_verify",
                f"{label}: {WRITERS} writers at 1 school (floor: 1 writer)",
                together,
                "events/s",
                one,
                "",
                None,
            ),
        ]
    return lines, figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--cases", type=int, default=20_000)
    parser.add_argument("--schools", type=int, default=20)
    parser.add_argument("--backend", choices=("sqlite", "postgres"))
    parser.add_argument("--url", default=os.environ.get("CASEWORK_TEST_POSTGRES_URL", ""))
    args = parser.parse_args()
    os.environ["PREFECT_API_URL"] = "http://127.0.0.1:9/api"  # no Prefect is involved
    backends = [args.backend] if args.backend else ["sqlite", "postgres"]
    lines: list[str] = []
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="casework-bench-") as tmp:
        if "sqlite" in backends:
            url = f"sqlite:///{Path(tmp) / 'casework.db'}"
            found = run_backend("SQLite", url, args, Path(tmp) / "var-sqlite")
            lines, figures = lines + found[0], figures + found[1]
        if "postgres" in backends and not args.url:
            lines.append("PostgreSQL skipped: set CASEWORK_TEST_POSTGRES_URL or pass --url.")
        elif "postgres" in backends:
            url, drop = postgres_database(args.url)
            try:
                found = run_backend("PostgreSQL", url, args, Path(tmp) / "var-postgres")
                lines, figures = lines + found[0], figures + found[1]
            finally:
                drop()
    print("\n".join(lines))
    save("audit_verify", figures)


if __name__ == "__main__":
    main()
