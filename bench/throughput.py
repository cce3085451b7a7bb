"""Benchmark: cases carried per minute from intake to the first request, by 1 and 2 runners.

The whole install runs with `casework run` on PostgreSQL (Casework's database and the
Prefect server's, each a throw-away database of its own), in a throw-away directory. A
round submits a burst of pupil-contact cases and times how soon every one has its first
request (the DSL's first task: its row in our database, with its email queued), with one
runner (the one `casework run` starts) and then with a second `casework runner` beside
it: runners on one machine stand in for machines.

Cases are submitted through `services.intake.open_reported_case` and `flows.trigger.
start_flow_safely`, the one call the report form's route makes and the start it hands to a
background task, from this process: the form's parsing and signing in are the web app's
cost, timed by bench/intake.py, and a burst sent through HTTP would measure the submitter's
client as much as the runners. What is measured is the work that follows every report.

While a round runs, the CPU time of every process is read from /proc twice a second, by
role: the Prefect server, each runner with its flow runs, the worker, the web app,
PostgreSQL's connections to each database (and, apart, the connections that ended: a flow
run's process opens its own), this submitter, and the machine as a whole; and how many flow
runs are under way, against the runners' limit. Whether the machine is at all its cores,
a one-process role at a whole core, or the runners at their limit of runs at once, says
what becomes the limit first. The runners' CPU per case gives cases per minute per core.

It needs a PostgreSQL server: CASEWORK_TEST_POSTGRES_URL (as the tests use) or --url;
without one it says so and stops.

    .venv/bin/python bench/throughput.py [--cases 40] [--url postgresql://...]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from hop import Install, install_env, open_cases, wait_for  # noqa: E402  (bench/ is here)
from results import Figure, save  # noqa: E402

BENCH = "throughput"
DEFAULT_URL = os.environ.get("CASEWORK_TEST_POSTGRES_URL", "")
TICKS = os.sysconf("SC_CLK_TCK")
SAMPLE_SECONDS = 0.5
WARM_UP_CASES = 4


# --- CPU by role, from /proc --------------------------------------------------------------


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    ticks: int  # CPU used by the process and by the children it has reaped
    reaped: int  # CPU used by the children it has reaped, alone
    argv: str


def processes() -> dict[int, Proc]:
    """Every process on the machine now."""
    found: dict[int, Proc] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue  # ended while we looked
        fields = stat.rsplit(")", 1)[1].split()
        # utime, stime, cutime, cstime: a flow run that has ended is counted in the fork
        # server that reaped it, so the runner's tree keeps its CPU.
        ticks = sum(int(fields[n]) for n in (11, 12, 13, 14))
        reaped = int(fields[13]) + int(fields[14])
        found[int(entry)] = Proc(int(entry), int(fields[1]), ticks, reaped, argv)
    return found


def machine_ticks() -> tuple[int, int]:
    """(busy, total) ticks of every core since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


class Roles:
    """Which processes belong to which role, found by their command lines among the
    processes this benchmark started (other people's installs may share the machine)."""

    def __init__(self, databases: dict[str, str], owners: Callable[[], list[int]]) -> None:
        self.databases = databases  # role name -> PostgreSQL database name
        self.owners = owners  # the processes this benchmark started itself

    def of(self, procs: dict[int, Proc], me: int) -> dict[str, set[int]]:
        children: dict[int, list[int]] = {}
        for proc in procs.values():
            children.setdefault(proc.ppid, []).append(proc.pid)
        ours = [procs[pid] for pid in sorted(tree(self.owners(), children)) if pid in procs]

        def started(command: str) -> list[Proc]:
            return [p for p in ours if command in p.argv]

        roots = {
            "Prefect server": started("flows.prefect_server server start"),
            "worker": started("casework.cli worker"),
            "web app": started("casework.cli web"),
        }
        for n, runner in enumerate(started("casework.cli runner"), start=1):
            roots[f"runner {n} + its flow runs"] = [runner]
        found = {role: tree([p.pid for p in ps], children) for role, ps in roots.items()}
        found["submitter (this process)"] = {me}
        # Flow runs: the children of each runner's fork server (flows/warm_start.py).
        servers = {p.pid for p in ours if "multiprocessing.forkserver" in p.argv}
        found[RUNS] = {p.pid for p in ours if p.ppid in servers}
        for role, name in self.databases.items():
            found[role] = {
                p.pid
                for p in procs.values()
                if p.argv.startswith("postgres:") and f" {name} " in p.argv
            }
        return found


RUNS = "flow runs"
ENDED = "PostgreSQL, ended connections (all DBs)"


def is_postmaster(proc: Proc) -> bool:
    """PostgreSQL's server process: the parent of every connection's backend."""
    return proc.ppid == 1 and "postgres" in proc.argv.split(" ", 1)[0] and " -D " in proc.argv


def tree(roots: list[int], children: dict[int, list[int]]) -> set[int]:
    found: set[int] = set()
    todo = list(roots)
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo.extend(children.get(pid, []))
    return found


@dataclass
class Sampler:
    """Samples each role's CPU twice a second in a thread, between `start` and `stop`."""

    roles: Roles
    samples: list[tuple[float, dict[str, int], tuple[int, int]]] = field(default_factory=list)
    running: list[int] = field(default_factory=list)  # flow runs under way, at each sample
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def sample(self) -> None:
        procs = processes()
        by_role = self.roles.of(procs, os.getpid())
        self.running.append(len(by_role.pop(RUNS)))
        ticks = {
            role: sum(procs[pid].ticks for pid in pids if pid in procs)
            for role, pids in by_role.items()
        }
        # A connection's backend that has ended is counted by the server process that
        # reaped it, with every other database's on this server.
        ticks[ENDED] = sum(p.reaped for p in procs.values() if is_postmaster(p))
        self.samples.append((time.monotonic(), ticks, machine_ticks()))

    def start(self) -> None:
        self.sample()

        def loop() -> None:
            while not self._stop.wait(SAMPLE_SECONDS):
                self.sample()

        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.sample()

    def cores(self) -> dict[str, tuple[float, float, float]]:
        """Each role's CPU over the round: (average cores, busiest 2 s in cores, CPU s)."""
        (t0, first, _), (t1, last, _) = self.samples[0], self.samples[-1]
        found: dict[str, tuple[float, float, float]] = {}
        span = max(1, round(2.0 / SAMPLE_SECONDS))
        for role in last:
            # A PostgreSQL connection that closes takes its CPU time with it: never below 0.
            used = max(0, last[role] - first.get(role, 0)) / TICKS
            peaks = [
                (b[1].get(role, 0) - a[1].get(role, 0)) / TICKS / (b[0] - a[0])
                for a, b in zip(self.samples, self.samples[span:], strict=False)
            ]
            found[role] = (used / (t1 - t0), max(peaks, default=0.0), used)
        (busy0, total0), (busy1, total1) = self.samples[0][2], self.samples[-1][2]
        cpus = os.cpu_count() or 1
        machine = (busy1 - busy0) / max(1, total1 - total0) * cpus
        found["the whole machine (everyone's)"] = (machine, 0.0, machine * (t1 - t0))
        return found


# --- one round ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Round:
    runners: int
    cases: int
    submitted_in: float  # seconds to submit the burst
    seconds: float  # first submission to the last case's first request
    steady: float  # cases per minute between the first and the last first request
    cpu: dict[str, tuple[float, float, float]]
    runs: tuple[float, int]  # flow runs under way at once: on average, at most
    allowed: int  # flow runs the runners work at once, together

    @property
    def per_minute(self) -> float:
        return self.cases / self.seconds * 60


def first_requests(case_ids: list[int]) -> dict[int, float]:
    """When each case got its first request (epoch seconds), for those that have one."""
    from sqlalchemy import func, select

    from db.models import Approval
    from db.session import reading

    with reading() as session:
        rows = session.execute(
            select(Approval.case_id, func.min(Approval.requested_at))
            .where(Approval.case_id.in_(case_ids))
            .group_by(Approval.case_id)
        ).all()
    return {int(case_id): when.timestamp() for case_id, when in rows}


def carry(count: int, timeout: float = 900) -> tuple[float, float, list[float]]:
    """Submit `count` cases at once; returns (submit start, submit seconds, request times)."""
    started = time.time()
    ids = open_cases(count)
    submitted = time.time() - started

    def all_asked() -> dict[int, float] | None:
        found = first_requests(ids)
        return found if len(found) == count else None

    done = wait_for(all_asked, timeout, f"first requests of {count} cases", every=0.25)
    return started, submitted, sorted(done.values())


def measure(runners: int, count: int, roles: Roles) -> Round:
    carry(WARM_UP_CASES * runners)  # every runner's warm process made, caches filled
    time.sleep(2)
    sampler = Sampler(roles)
    sampler.start()
    try:
        started, submitted, times = carry(count)
    finally:
        sampler.stop()
    steady = (len(times) - 1) / (times[-1] - times[0]) * 60 if times[-1] > times[0] else 0.0
    from core.settings import get_settings

    runs = (statistics.mean(sampler.running), max(sampler.running))
    allowed = runners * get_settings().flow_runs_at_once
    return Round(
        runners, count, submitted, times[-1] - started, steady, sampler.cores(), runs, allowed
    )


# --- the databases and the install -----------------------------------------------------------


@contextlib.contextmanager
def databases(url: str) -> Iterator[tuple[str, str]]:
    """Two throw-away PostgreSQL databases, Casework's and Prefect's; dropped afterwards."""
    import psycopg

    tag = uuid.uuid4().hex[:8]
    names = (f"benchb_casework_{tag}", f"benchb_prefect_{tag}")
    with psycopg.connect(url, autocommit=True) as admin:
        for name in names:
            admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield names
    finally:
        with psycopg.connect(url, autocommit=True) as admin:
            for name in names:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def database_url(url: str, name: str, driver: str = "postgresql") -> str:
    base = url.rsplit("/", 1)[0].split("://", 1)[1]
    return f"{driver}://{base}/{name}"


def report(rounds: list[Round]) -> list[Figure]:
    line = "-" * 86
    print(f"\nCases carried from intake to their first request, PostgreSQL, {os.cpu_count()} cores")
    print(line)
    print(f"{'runners':<9}{'cases':>6}{'submit s':>10}{'last s':>9}{'cases/min':>11}{'steady':>9}")
    for r in rounds:
        print(
            f"{r.runners:<9}{r.cases:>6}{r.submitted_in:>10.1f}{r.seconds:>9.1f}"
            f"{r.per_minute:>11.1f}{r.steady:>9.1f}"
        )
    for r in rounds:
        print(f"\nCPU with {r.runners} runner(s): average cores, busiest 2 s, CPU s per case")
        for role, (average, peak, used) in sorted(r.cpu.items(), key=lambda kv: -kv[1][0]):
            print(f"  {role:40}{average:>6.2f}{peak:>8.2f}{used / r.cases:>9.3f}")
    for r in rounds:
        print(f"\n{r.runners} runner(s): {limit(r)}")
    figures = []
    for r in rounds:
        runner_cpu = sum(used for role, (_, _, used) in r.cpu.items() if role.startswith("runner"))
        per_core = 60 * r.cases / runner_cpu if runner_cpu else 0.0
        figures += [
            Figure(
                BENCH,
                f"cases/min to first request, {r.runners} runner(s)",
                r.per_minute,
                "cases/min",
                None,
                "",
                None,
            ),
            Figure(
                BENCH,
                f"cases/min per runner core, {r.runners} runner(s)",
                per_core,
                "cases/min",
                None,
                "",
                None,
            ),
        ]
        print(
            f"\n{r.runners} runner(s): {per_core:.0f} cases/min per core of runner CPU "
            f"({runner_cpu / r.cases:.2f} CPU s per case in the runners and their flow runs)"
        )
    return figures


# Roles that are one Python process each: one core is all they can ever use.
ONE_PROCESS = ("Prefect server", "worker", "web app")


def limit(r: Round) -> str:
    """What the round ran into first, in words."""
    from core.settings import get_settings

    machine = r.cpu["the whole machine (everyone's)"][0]
    cores = os.cpu_count() or 1
    ours = {role: v for role, v in r.cpu.items() if not role.startswith("the whole")}
    busiest, (average, peak, _) = max(ours.items(), key=lambda kv: kv[1][0])
    single = max(
        ((role, v) for role, v in ours.items() if role in ONE_PROCESS), key=lambda kv: kv[1][0]
    )
    words = (
        f"the machine was {machine / cores:.0%} busy ({machine:.2f} of {cores} cores, "
        f"everyone's work included); of ours, {busiest} used the most ({average:.2f} cores "
        f"on average, {peak:.2f} at its busiest); the busiest single process, "
        f"{single[0]}, used {single[1][0]:.2f} of the one core it can use."
    )
    words += (
        f" Flow runs under way at once: {r.runs[0]:.1f} on average, {r.runs[1]} at most, "
        f"of the {r.allowed} the runners allow."
    )
    limits = []
    if machine >= 0.9 * cores:
        limits.append("the CPUs")
    if single[1][0] >= 0.9:
        limits.append(single[0])
    if r.runs[0] >= 0.8 * r.allowed:
        limits.append("the runners' flow runs at once (CASEWORK_RUNNER_LIMIT)")
    if not limits:
        # Nothing is full: each run waits up to a poll to be taken, and the runners take
        # only so many at once, so the rate is what that latency allows.
        poll = get_settings().runner_poll_seconds
        return (
            f"nothing saturated, so the runners' latency set the rate (at most {r.allowed} "
            f"runs at once, each waiting up to a {poll:g} s poll to be taken): {words}"
        )
    return f"limited by {' and '.join(limits)}: {words}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=40, help="cases in each round's burst")
    parser.add_argument(
        "--url", default=DEFAULT_URL, help="a PostgreSQL server's URL (default: the tests')"
    )
    args = parser.parse_args()
    if not args.url:
        print("throughput: skipped, it needs PostgreSQL: set CASEWORK_TEST_POSTGRES_URL or --url")
        return
    with (
        tempfile.TemporaryDirectory(prefix="casework-throughput-") as tmp,
        databases(args.url) as (ours, prefects),
    ):
        os.environ["CASEWORK_DATABASE_URL"] = database_url(args.url, ours)
        os.environ["PREFECT_API_DATABASE_CONNECTION_URL"] = database_url(
            args.url, prefects, "postgresql+asyncpg"
        )
        install = Install(Path(tmp), install_env(Path(tmp)), floor=False)
        roles = Roles(
            {"PostgreSQL, Casework's DB": ours, "PostgreSQL, Prefect's DB": prefects},
            lambda: [proc.pid for proc in install.procs.values()],
        )
        rounds = []
        try:
            install.start()
            print(
                f"Install up (PostgreSQL, `casework run`); {args.cases} cases a round", flush=True
            )
            rounds.append(measure(1, args.cases, roles))
            print(f"1 runner: {rounds[-1].per_minute:.1f} cases/min", flush=True)
            install.spawn("runner-2", [sys.executable, "-m", "casework.cli", "runner"])
            rounds.append(measure(2, args.cases, roles))
            print(f"2 runners: {rounds[-1].per_minute:.1f} cases/min", flush=True)
        except BaseException:
            print(install.log_tail(), file=sys.stderr)
            raise
        finally:
            install.stop()
        figures = report(rounds)
    print(f"Saved to {save(BENCH, figures)}")


if __name__ == "__main__":
    main()
