"""Benchmark: the intake POST at 20 concurrent reporters, against a bare upload endpoint.

`make bench` runs it. It starts the whole default install as `make run` does (bench/
install.py: Prefect server, runner, worker, web app, mail catcher, on a throw-away var
directory with SQLite and free ports), signs in 20 members of staff the way staff sign in
(an emailed link), and then, round after round:

- the floor: a bare FastAPI endpoint defined here and served by uvicorn in a process of its
  own, as the app is, that reads the same multipart form, stores the file (written and
  fsynced, as the app's file store does) and writes one row to SQLite;
- intake: POST /report/pupil_contact on the real app: a complete form and a 2 MB PNG
  screenshot, each reporter opening the form for its CSRF token first, as a browser does;
  the app keeps it (the file stored, one row written: the floor's own work) as a draft, so
  each reporter then opens the check page and presses "Send the report", which opens the
  case. The form's POST is the sample set against the floor's POST; the send's POST (no
  upload: the draft's file checked and copied, the case opened) is timed and shown beside
  it, and the burst's reports a second count both.

Both get the same client: 20 reporters at once, 60 reports in all (3 each), timed from each
POST going out to its answer. Between rounds the install is left to go quiet (every case's
flow has reached its first human step and the outbox is empty), so each round starts where
the last one started. Samples of all rounds are pooled. Goal: intake p99 at most 1.5 times
the floor's. CASEWORK_BENCH_ROUNDS sets the number of rounds (3). `--database-url` runs the
install on an empty PostgreSQL database instead (it is migrated and seeded, not dropped).

    python bench/intake.py [--reports 60] [--clients 20] [--rounds 3] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData, UploadFile

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from install import (  # noqa: E402  (bench/ is the script's folder)
    SLUG,
    Install,
    csrf_of,
    evidence_image,
    report_fields,
    running_install,
    signed_in_cookies,
    wait_for,
)
from results import Figure, save  # noqa: E402

P99_RATIO_GOAL = 1.5
SETTLE_SECONDS = 900  # 60 flows to their first human step, at one run per core


# --- the floor: a bare endpoint that keeps the file and one row ------------------------------


def serve_floor(port: int, directory: Path) -> None:
    """Serve the floor with uvicorn until killed."""
    import uvicorn

    files = directory / "files"
    files.mkdir(parents=True, exist_ok=True)
    database = directory / "floor.db"
    with sqlite3.connect(database) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE IF NOT EXISTS reports (id INTEGER PRIMARY KEY, file TEXT)")
    app = FastAPI()

    async def posted(request: Request) -> AsyncIterator[FormData]:
        async with request.form(max_files=11, max_fields=80) as form:
            yield form

    @app.get("/report/{slug}")
    def form_page(slug: str) -> Response:
        # The same round trip a reporter makes for the real form's CSRF token.
        return HTMLResponse('<input type="hidden" name="csrf_token" value="floor">')

    @app.post("/report/{slug}")
    def submit(slug: str, form: FormData = Depends(posted)) -> Response:
        upload = form["evidence"]
        assert isinstance(upload, UploadFile)
        data = upload.file.read()
        name = uuid.uuid4().hex
        with open(files / name, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        with sqlite3.connect(database, timeout=30) as conn:
            conn.execute("PRAGMA busy_timeout=30000")
            row = conn.execute("INSERT INTO reports (file) VALUES (?)", (name,)).lastrowid
        return RedirectResponse(f"/cases/{row}", status_code=303)

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def floor_rows(directory: Path) -> int:
    with sqlite3.connect(directory / "floor.db") as conn:
        return int(conn.execute("SELECT count(*) FROM reports").fetchone()[0])


# --- the client: the same for both ---------------------------------------------------------


@dataclass(frozen=True)
class Burst:
    """One round's reports against one server: each POST's time, and the whole burst's."""

    seconds: list[float]
    wall: float
    sends: list[float] = field(default_factory=list)  # "Send the report", where there is one

    @property
    def rate(self) -> float:
        return len(self.seconds) / self.wall


async def burst(
    base_url: str, cookies: list[httpx.Cookies], reports: int, first: int, image: bytes
) -> Burst:
    """`reports` reports from `len(cookies)` reporters at once, each sending its share in turn."""
    origin = {"Origin": base_url}  # a browser sends it with a form POST
    timings: list[float] = []
    sends: list[float] = []

    async def reporter(jar: httpx.Cookies, numbers: range) -> None:
        async with httpx.AsyncClient(base_url=base_url, cookies=jar, timeout=120) as client:
            for n in numbers:
                page = await client.get(f"/report/{SLUG}")
                page.raise_for_status()
                data = {**report_fields(n), "csrf_token": csrf_of(page.text)}
                upload = {"evidence": (f"screenshot-{n}.png", image, "image/png")}
                started = time.perf_counter()
                answer = await client.post(
                    f"/report/{SLUG}", data=data, files=upload, headers=origin
                )
                timings.append(time.perf_counter() - started)
                check = answer.headers.get("location", "")
                if answer.status_code == 303 and "/check/" in check:
                    # The real app keeps the report as a draft; sending it opens the case.
                    sends.append(await send_checked(client, check, origin))
                elif answer.status_code != 303:
                    raise RuntimeError(f"report {n}: {answer.status_code} {answer.text[:300]}")

    clients = len(cookies)
    shares = [range(first + c, first + reports, clients) for c in range(clients)]
    started = time.perf_counter()
    await asyncio.gather(
        *(reporter(jar, share) for jar, share in zip(cookies, shares, strict=True))
    )
    return Burst(timings, time.perf_counter() - started, sends)


async def send_checked(client: httpx.AsyncClient, check: str, origin: dict[str, str]) -> float:
    """Press "Send the report" on a report's check page; how long the POST took."""
    page = await client.get(check)
    page.raise_for_status()
    started = time.perf_counter()
    answer = await client.post(check, data={"csrf_token": csrf_of(page.text)}, headers=origin)
    if answer.status_code != 303:
        raise RuntimeError(f"{check}: {answer.status_code} {answer.text[:300]}")
    return time.perf_counter() - started


def floor_cookies(clients: int) -> list[httpx.Cookies]:
    return [httpx.Cookies() for _ in range(clients)]


# --- between rounds -------------------------------------------------------------------------


def quiet(install: Install) -> int:
    """Wait until every case's flow has reached a human step and no email waits; how many."""
    from sqlalchemy import func, select

    from db.models import Case, CaseStatus, CaseStep, OutboxMessage, OutboxStatus, StepStatus
    from db.session import reading

    def settled() -> int | None:
        with reading(install.database_url) as session:
            # The benchmark's cases are the open ones (the demo's are closed). Each must have
            # its run: the hand-off starts them a few at a time, and a case whose run is not
            # created yet has no step waiting either, so counting only cases with a run
            # called the install quiet while most of a burst's flows were still to come.
            opened = session.scalar(
                select(func.count()).select_from(Case).where(Case.status == CaseStatus.OPEN)
            )
            waiting = session.scalar(
                select(func.count(func.distinct(CaseStep.case_id)))
                .join(Case, Case.id == CaseStep.case_id)
                .where(
                    CaseStep.status == StepStatus.WAITING,
                    Case.status == CaseStatus.OPEN,
                    Case.flow_run_id.is_not(None),
                )
            )
            unsent = session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.status.in_([OutboxStatus.PENDING, OutboxStatus.SENDING]))
            )
        return waiting if opened and waiting == opened and not unsent else None

    return wait_for(settled, SETTLE_SECONDS, "quiet install (every flow at a human step)")


def bench_cases(install: Install) -> tuple[int, int]:
    """Cases the benchmark opened (open ones: the demo's are closed) and their evidence."""
    from sqlalchemy import func, select

    from db.models import Case, CaseStatus, Evidence
    from db.session import reading

    with reading(install.database_url) as session:
        cases = session.scalar(
            select(func.count()).select_from(Case).where(Case.status == CaseStatus.OPEN)
        )
        files = session.scalar(
            select(func.count())
            .select_from(Evidence)
            .join(Case, Case.id == Evidence.case_id)
            .where(Case.status == CaseStatus.OPEN)
        )
    return int(cases or 0), int(files or 0)


# --- the run --------------------------------------------------------------------------------


def percentile(samples: list[float], q: float) -> float:
    """The nearest-rank percentile: a value that was measured, never an interpolation."""
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


@dataclass(frozen=True)
class Side:
    """One server's pooled figures over every round."""

    label: str
    bursts: list[Burst]

    @property
    def samples(self) -> list[float]:
        return [s for b in self.bursts for s in b.seconds]

    @property
    def p50_ms(self) -> float:
        return percentile(self.samples, 0.50) * 1000

    @property
    def p99_ms(self) -> float:
        return percentile(self.samples, 0.99) * 1000

    @property
    def rate(self) -> float:
        return len(self.samples) / sum(b.wall for b in self.bursts)

    @property
    def sends(self) -> list[float]:
        return [s for b in self.bursts for s in b.sends]


def run(args: argparse.Namespace, root: Path) -> tuple[Side, Side]:
    image = evidence_image()
    floors: list[Burst] = []
    intakes: list[Burst] = []
    floor_dir = root / "floor"
    with running_install(root / "install", args.clients, args.database_url) as install:
        cookies = signed_in_cookies(install, install.reporters)
        from mail.catcher import free_port

        port = free_port()
        floor_url = f"http://127.0.0.1:{port}"
        with open(root / "floor.log", "wb") as log:
            floor = subprocess.Popen(
                [sys.executable, __file__, "--floor", str(port), str(floor_dir)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            from casework.run import wait_http

            wait_http(floor_url + f"/report/{SLUG}", 60, floor)
            for n in range(args.rounds):
                first = n * args.reports
                floors.append(
                    asyncio.run(
                        burst(floor_url, floor_cookies(args.clients), args.reports, first, image)
                    )
                )
                intakes.append(
                    asyncio.run(burst(install.base_url, cookies, args.reports, first, image))
                )
                print(
                    f"round {n + 1}: floor p99 {percentile(floors[-1].seconds, 0.99) * 1000:,.0f}"
                    f" ms, intake p99 {percentile(intakes[-1].seconds, 0.99) * 1000:,.0f} ms;"
                    " waiting for the flows to settle ...",
                    flush=True,
                )
                settled = quiet(install)
                print(f"  {settled} cases wait for a person; the outbox is empty", flush=True)
            cases, files = bench_cases(install)
        finally:
            floor.terminate()
            floor.wait(10)
    expected = args.reports * args.rounds
    if cases != expected or files != expected or floor_rows(floor_dir) != expected:
        raise RuntimeError(
            f"expected {expected} cases, files and floor rows: got {cases} cases, {files} "
            f"evidence files, {floor_rows(floor_dir)} floor rows"
        )
    return Side("floor", floors), Side("intake", intakes)


def report(args: argparse.Namespace, floor: Side, intake: Side) -> None:
    line = "-" * 66
    count = args.reports * args.rounds
    backend = "PostgreSQL" if args.database_url else "SQLite"
    print()
    print(
        f"Intake POST, {args.clients} reporters at once, {args.reports} reports a round, "
        f"{args.rounds} round(s): {count} each, on {backend}"
    )
    print(line)
    print(f"{'':<16}{'p50 ms':>10}{'p99 ms':>10}{'reports/s':>12}")
    for side in (floor, intake):
        print(f"{side.label:<16}{side.p50_ms:>10,.0f}{side.p99_ms:>10,.0f}{side.rate:>12.1f}")
    ratio = intake.p99_ms / floor.p99_ms
    print(
        f"{'intake / floor':<16}{intake.p50_ms / floor.p50_ms:>10.2f}{ratio:>10.2f}"
        f"{intake.rate / floor.rate:>12.2f}"
    )
    sends = intake.sends
    if sends:
        send50, send99 = percentile(sends, 0.50) * 1000, percentile(sends, 0.99) * 1000
        print(f"{'send (check)':<16}{send50:>10,.0f}{send99:>10,.0f}")
    print(line)
    print(
        f"p99 ratio {ratio:.2f}, goal <= {P99_RATIO_GOAL}: "
        f"{'ok' if ratio <= P99_RATIO_GOAL else 'MISSED'}"
    )
    where = f"{args.clients} clients" + (", PostgreSQL" if args.database_url else "")
    save(
        "intake",
        [
            Figure(
                "intake", f"intake POST p50, {where}", intake.p50_ms, "ms", floor.p50_ms, "", None
            ),
            Figure(
                "intake",
                f"intake POST p99, {where}",
                intake.p99_ms,
                "ms",
                floor.p99_ms,
                f"ratio <= {P99_RATIO_GOAL}",
                ratio <= P99_RATIO_GOAL,
            ),
            Figure("intake", f"reports/s, {where}", intake.rate, "reports/s", floor.rate, "", None),
            *(
                [
                    Figure(
                        "intake",
                        f"send POST p99 (check page, no upload), {where}",
                        percentile(sends, 0.99) * 1000,
                        "ms",
                        floor.p99_ms,
                        "",
                        None,
                    )
                ]
                if sends
                else []
            ),
        ],
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=int, default=60)
    parser.add_argument(
        "--database-url",
        metavar="URL",
        default="",
        help="run the install on this empty PostgreSQL database rather than SQLite",
    )
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument(
        "--rounds", type=int, default=max(1, int(os.environ.get("CASEWORK_BENCH_ROUNDS", "3")))
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="casework-bench-") as tmp:
        floor, intake = run(args, Path(tmp))
    report(args, floor, intake)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--floor":
        serve_floor(int(sys.argv[2]), Path(sys.argv[3]))
    else:
        main()
