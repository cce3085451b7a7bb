"""Benchmark: from a report's submit to its first email, and to its flow's first step.

`make bench` runs it. It starts the whole default install as `make run` does (bench/
install.py) and sends complete reports of a pupil's contact, each with a 2 MB screenshot,
as signed-in members of staff (the form, then "Send the report" on its check page), then
times from that last POST going out, the one that opens the case, to:

- the first email about the case at the SMTP server (the mail catcher's own arrival time):
  the "New case" notice intake queues, which the worker's outbox sender delivers.
  Goal: under 1 s, also when 20 reports arrive at once;
- the flow's first step recorded in our database: the save_evidence step done (the first
  step the flow itself records: intake already did notify_headteacher), by the runner's
  flow run, which Casework creates in a background task once the reporter has the answer.

The floor for the second is Prefect alone: a runner served exactly as flows/deployments.py
serves ours (the same poll interval and limit, runs forked from the same warm process), in a
process of its own, with one empty flow; the deployment's run is created as ours is
(read the deployment, create a run from it) and its first task writes the time it started.
Goal: the report's figure at most 1.2 times the floor's.

Reports and floor runs alternate, one at a time, each after a random pause of up to one
poll interval (so neither is lucky with the runner's poll), and each left to finish before
the next; then a burst of 20 of each. CASEWORK_BENCH_ROUNDS sets the number of single
reports and floor runs (3 rounds of 4). One report and one floor run go first, untimed:
each runner starts its warm process at its first run, which a person meets only once after
`make run`.

    python bench/first_step.py [--singles 12] [--burst 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Nothing heavy at the top: the floor runner's flow runs import this script again.
FLOOR = "first_step_floor"
T = TypeVar("T")
EMAIL_GOAL_SECONDS = 1.0
RATIO_GOAL = 1.2
WAIT_SECONDS = 600


# --- the floor: an empty flow, served like ours --------------------------------------------


def serve_floor() -> None:
    """Serve the empty flow the way flows/deployments.py serves the case flows, until stopped."""
    import contextlib

    from prefect import flow, task
    from prefect.cache_policies import NO_CACHE
    from prefect.exceptions import TerminationSignal
    from prefect.runner import Runner

    from core.settings import get_settings
    from flows.warm_start import start_runs_from_a_warm_process

    @task(name="first_task", cache_policy=NO_CACHE)
    async def first_task(stamps: str, label: str) -> None:
        started = time.time()
        Path(stamps, label).write_text(repr(started))

    @flow(name=FLOOR, persist_result=False)
    async def empty(stamps: str, label: str) -> None:
        await first_task(stamps, label)

    start_runs_from_a_warm_process()
    settings = get_settings()
    runner = Runner(limit=settings.flow_runs_at_once, query_seconds=settings.runner_poll_seconds)
    runner.add_flow(empty, name=FLOOR)
    with contextlib.suppress(KeyboardInterrupt, TerminationSignal):
        asyncio.run(runner.start())


class Floor:
    """The floor runner's process, and how to start one of its runs."""

    def __init__(self, env: dict[str, str], stamps: Path) -> None:
        from casework.run import Lifeline

        self.stamps = stamps
        stamps.mkdir(parents=True, exist_ok=True)
        self.line = Lifeline().start()
        with open(stamps.parent / "floor-runner.log", "wb") as log:
            self.process = self.line.spawn([sys.executable, __file__, "--floor"], env, log)

    def wait_ready(self, prefect_api: str) -> None:
        from casework.run import wait_http

        wait_http(f"{prefect_api}/deployments/name/{FLOOR}/{FLOOR}", 120, self.process)

    def start(self, label: str) -> float:
        """Create a run as flows/trigger.start_case_flow creates ours; when it was asked."""
        from prefect.client.orchestration import get_client

        asked = time.time()
        with get_client(sync_client=True) as client:
            deployment = client.read_deployment_by_name(f"{FLOOR}/{FLOOR}")
            client.create_flow_run_from_deployment(
                deployment.id,
                parameters={"stamps": str(self.stamps), "label": label},
                idempotency_key=label,
                name=label,
            )
        return asked

    def started(self, label: str) -> float | None:
        """When the run's first task started, once it has."""
        path = self.stamps / label
        text = path.read_text() if path.exists() else ""
        return float(text) if text else None

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(30)
        finally:
            self.line.close()


# --- the reports ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    """One report: when its POST went out and the case it opened."""

    asked: float
    case_id: int
    answered: float = 0.0


def send_report(base_url: str, cookies: Any, n: int, image: bytes) -> Sent:
    """Open the form for its token, send report `n`, then press "Send the report" on its
    check page; timed from that last POST, the one that opens the case, as the reporter
    sees it."""
    import httpx
    from install import SLUG, csrf_of, report_fields

    origin = {"Origin": base_url}
    with httpx.Client(base_url=base_url, cookies=cookies, timeout=120) as client:
        page = client.get(f"/report/{SLUG}")
        page.raise_for_status()
        data = {**report_fields(n), "csrf_token": csrf_of(page.text)}
        drafted = client.post(
            f"/report/{SLUG}",
            data=data,
            files={"evidence": (f"screenshot-{n}.png", image, "image/png")},
            headers=origin,
        )
        if drafted.status_code != 303:
            raise RuntimeError(f"report {n}: {drafted.status_code} {drafted.text[:300]}")
        check = drafted.headers["location"]
        page = client.get(check)
        page.raise_for_status()
        asked = time.time()
        answer = client.post(check, data={"csrf_token": csrf_of(page.text)}, headers=origin)
    if answer.status_code != 303:
        raise RuntimeError(f"report {n}: {answer.status_code} {answer.text[:300]}")
    # The confirmation's address ends with the case id: /report/sent/<id>.
    return Sent(asked, int(answer.headers["location"].rsplit("/", 1)[1]), time.time())


class Watch:
    """What the install did about each case: its first email and its flow's first step."""

    def __init__(self, install: Any) -> None:
        self.install = install

    def first_email(self, case_id: int) -> float | None:
        """When the first email linking to the case reached the mail catcher (the store
        reads and parses each message once, however often this looks)."""
        link = f"{self.install.base_url}/cases/{case_id}"
        times = [m.received_at.timestamp() for m in self.install.mail.all() if link in m.links]
        return min(times) if times else None

    def step(self, case_id: int, key: str) -> Any:
        from sqlalchemy import select

        from db.models import CaseStep
        from db.session import reading

        with reading(self.install.database_url) as session:
            return session.scalars(
                select(CaseStep).where(CaseStep.case_id == case_id, CaseStep.key == key)
            ).first()

    def first_step(self, case_id: int) -> float | None:
        """When the flow recorded its first step (save_evidence done)."""
        from core.enums import StepKey

        step = self.step(case_id, StepKey.SAVE_EVIDENCE)
        done = step.completed_at if step is not None else None
        return done.timestamp() if done is not None else None

    def marks(self, sent: Sent) -> dict[str, float]:
        """Seconds from the POST to each thing the install did toward the case's first
        email, read from the timestamps our database and the mail catcher keep."""
        from sqlalchemy import select

        from db.models import Case, OutboxMessage
        from db.session import reading

        with reading(self.install.database_url) as session:
            opened = session.get(Case, sent.case_id)
            notices = session.scalars(
                select(OutboxMessage).where(OutboxMessage.case_id == sent.case_id)
            ).all()
        first = min(notices, key=lambda m: m.sent_at or m.created_at) if notices else None
        found = {"POST answered": sent.answered}
        if opened is not None:
            found["case saved"] = opened.opened_at.timestamp()
        if first is not None:
            found["first email queued"] = first.created_at.timestamp()
            if first.sent_at is not None:
                found["first email recorded sent"] = first.sent_at.timestamp()
        at = self.first_email(sent.case_id)
        if at is not None:
            found["first email at the SMTP server"] = at
        return {name: when - sent.asked for name, when in found.items()}

    def at_rest(self, case_id: int) -> bool | None:
        """True once the case's flow waits for a person (its run has suspended)."""
        from core.enums import StepKey
        from db.models import StepStatus

        step = self.step(case_id, StepKey.RECORD_PERSISTENCE)
        return True if step is not None and step.status == StepStatus.WAITING else None


def after(check: Callable[[], T | None], what: str) -> T:
    from install import wait_for

    return wait_for(check, WAIT_SECONDS, what)


# --- the run --------------------------------------------------------------------------------


@dataclass
class Times:
    """Seconds from asking to the thing happening, one per report or run."""

    email: list[float]
    step: list[float]
    floor: list[float]


def singles(install: Any, watch: Watch, floor: Floor, cookies: Any, count: int) -> Times:
    """Reports and floor runs alternately, one at a time, each at a random moment."""
    from install import evidence_image

    from core.settings import get_settings

    image = evidence_image()
    poll = get_settings().runner_poll_seconds
    times = Times([], [], [])
    # Untimed, one of each first: each runner starts its warm process at its first run.
    warm = send_report(install.base_url, cookies, 999, image)
    after(partial(watch.at_rest, warm.case_id), "the flow at a human step")
    floor.start("warm-up")
    after(partial(floor.started, "warm-up"), "floor task")
    for n in range(count):
        time.sleep(random.uniform(0.2, 0.2 + poll))
        sent = send_report(install.base_url, cookies, 1000 + n, image)
        email = after(partial(watch.first_email, sent.case_id), "first email")
        step = after(partial(watch.first_step, sent.case_id), "first step")
        times.email.append(email - sent.asked)
        times.step.append(step - sent.asked)
        after(partial(watch.at_rest, sent.case_id), "the flow at a human step")
        time.sleep(random.uniform(0.2, 0.2 + poll))
        label = f"single-{n}"
        asked = floor.start(label)
        times.floor.append(after(partial(floor.started, label), "floor task") - asked)
        print(
            f"  single {n + 1}: email {times.email[-1]:.2f} s, first step "
            f"{times.step[-1]:.2f} s, floor {times.floor[-1]:.2f} s",
            flush=True,
        )
        time.sleep(1.0)  # the floor run ends just after its task; let it go
    return times


def where_the_time_goes(marks: list[dict[str, float]]) -> None:
    """Print each mark's median and slowest seconds from the POST, in the order reached."""
    names = {name for found in marks for name in found}
    rows = sorted(
        (statistics.median(m[n] for m in marks if n in m), max(m[n] for m in marks if n in m), n)
        for n in names
    )
    print("  Where a burst's first email's time goes (seconds from each POST: median, slowest):")
    for median, slowest, name in rows:
        print(f"    {name:34}{median:>7.2f}{slowest:>8.2f}")


def burst(install: Any, watch: Watch, floor: Floor, all_cookies: list[Any]) -> Times:
    """Every reporter at once, then as many floor runs at once."""
    from install import evidence_image

    image = evidence_image()
    size = len(all_cookies)
    with ThreadPoolExecutor(size) as pool:
        sent = list(
            pool.map(
                lambda item: send_report(install.base_url, item[1], 2000 + item[0], image),
                enumerate(all_cookies),
            )
        )
    emails = [after(partial(watch.first_email, s.case_id), "first email") - s.asked for s in sent]
    where_the_time_goes([watch.marks(s) for s in sent])
    steps = [after(partial(watch.first_step, s.case_id), "first step") - s.asked for s in sent]
    for s in sent:
        after(partial(watch.at_rest, s.case_id), "the flow at a human step")
    time.sleep(2.0)
    labels = [f"burst-{n}" for n in range(size)]
    with ThreadPoolExecutor(size) as pool:
        asked = list(pool.map(floor.start, labels))
    floors = [
        after(partial(floor.started, lb), "floor task") - a
        for lb, a in zip(labels, asked, strict=True)
    ]
    return Times(emails, steps, floors)


def run(args: argparse.Namespace, root: Path) -> tuple[Times, Times]:
    from install import running_install, signed_in_cookies

    with running_install(root / "install", reporters=args.burst) as install:
        cookies = signed_in_cookies(install, install.reporters)
        floor = Floor(install.env, root / "stamps")
        try:
            floor.wait_ready(install.prefect_api)
            watch = Watch(install)
            print(f"{args.singles} single reports and floor runs ...", flush=True)
            one = singles(install, watch, floor, cookies[0], args.singles)
            print(f"A burst of {args.burst} reports, then of {args.burst} floor runs ...")
            many = burst(install, watch, floor, cookies)
        finally:
            floor.stop()
    return one, many


def report(args: argparse.Namespace, one: Times, many: Times) -> None:
    from results import Figure, save

    def p50(values: list[float]) -> float:
        return statistics.median(values)

    line = "-" * 78
    print()
    print("From a report's submit (2 MB screenshot) to ..., seconds: p50 / max")
    print(line)
    print(f"{'':<34}{'one at a time':>20}{f'burst of {args.burst}':>20}")
    rows = (
        ("the first email at the SMTP server", one.email, many.email),
        ("the flow's first step recorded", one.step, many.step),
        ("floor: Prefect run to first task", one.floor, many.floor),
    )
    for label, single, burst_ in rows:
        print(
            f"{label:<34}{p50(single):>10.2f} /{max(single):>7.2f}"
            f"{p50(burst_):>10.2f} /{max(burst_):>7.2f}"
        )
    print(line)
    email_ok = max(one.email) < EMAIL_GOAL_SECONDS and max(many.email) < EMAIL_GOAL_SECONDS
    ratios = (p50(one.step) / p50(one.floor), p50(many.step) / p50(many.floor))
    print(
        f"first email, worst {max(max(one.email), max(many.email)):.2f} s: goal < 1 s: "
        f"{'ok' if email_ok else 'MISSED'}"
    )
    for label, ratio in zip(("one at a time", f"burst of {args.burst}"), ratios, strict=True):
        print(
            f"first step / floor, p50, {label}: {ratio:.2f}, goal <= {RATIO_GOAL}: "
            f"{'ok' if ratio <= RATIO_GOAL else 'MISSED'}"
        )

    def email(name: str, value: float) -> Figure:
        ok = value < EMAIL_GOAL_SECONDS
        return Figure("first_step", name, value, "s", None, f"< {EMAIL_GOAL_SECONDS:.0f} s", ok)

    def step(name: str, value: float, floor: float) -> Figure:
        ok = value / floor <= RATIO_GOAL
        return Figure("first_step", name, value, "s", floor, f"ratio <= {RATIO_GOAL}", ok)

    save(
        "first_step",
        [
            email("submit to first email, worst, one at a time", max(one.email)),
            email(f"submit to first email, worst, burst of {args.burst}", max(many.email)),
            step("submit to first step, p50, one at a time", p50(one.step), p50(one.floor)),
            step(
                f"submit to first step, p50, burst of {args.burst}",
                p50(many.step),
                p50(many.floor),
            ),
            step(
                f"submit to first step, worst, burst of {args.burst}",
                max(many.step),
                max(many.floor),
            ),
        ],
    )


def main() -> None:
    rounds = max(1, int(os.environ.get("CASEWORK_BENCH_ROUNDS", "3")))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--singles", type=int, default=4 * rounds)
    parser.add_argument("--burst", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="casework-bench-") as tmp:
        one, many = run(args, Path(tmp))
    report(args, one, many)


if __name__ == "__main__":
    if sys.argv[1:] == ["--floor"]:
        serve_floor()
    else:
        main()
