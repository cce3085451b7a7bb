"""Benchmark: the letter to 10,000 parents through the real outbox sender.

`make bench` runs it. It builds a throw-away SQLite database with a 10,000-parent demo
school, queues the letter exactly as the flow's `send_parent_letter` step does, and then,
each against a fresh Postfix `smtp-sink` (a fast C SMTP server in its own process):

- the sender: `deliver_due` passes with the production settings (only host and port
  changed) in a child process, until every row is sent;
- the floor: a plain aiosmtplib loop in a child process sending the same 10,000 messages,
  built beforehand, over the same number of connections.

Duplicates are counted, not guessed: the sink counts every message it accepts (`-c`), and
a row is only marked sent after the server accepted it, so with every row sent and the sink
at exactly one message per row, no Message-ID reached it twice.

Over 400 lines on purpose: the sender's run and its floor are measured side by side in one
script, so the two are seen to get the same letter, server and connections.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PARENTS = 10_000
RATIO_GOAL = 0.8
RSS_GOAL_MB = 250
DEADLINE_SECONDS = 600


@dataclass(frozen=True)
class Run:
    """What one child process reported, plus what the sink and the kernel saw."""

    messages: int
    seconds: float
    peak_rss_mb: float
    accepted_by_sink: int

    @property
    def rate(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0

    def line(self) -> str:
        return (
            f"{self.messages:>10,}{self.seconds:>10.2f}{self.rate:>10,.0f}"
            f"{self.peak_rss_mb:>9.0f} MB"
        )


# --- the two child processes ------------------------------------------------------------


def sender_child() -> dict[str, float]:
    """Run the real sender until nothing is left to send."""
    from sqlalchemy import func, select

    from core.settings import get_settings
    from db.models import OutboxMessage, OutboxStatus
    from db.session import transaction
    from mail.sender import deliver_due

    def unsettled() -> int:
        with transaction() as session:
            waiting = OutboxMessage.status.in_([OutboxStatus.PENDING, OutboxStatus.SENDING])
            return int(
                session.scalar(select(func.count()).select_from(OutboxMessage).where(waiting)) or 0
            )

    async def drain() -> int:
        settings = get_settings()
        sent = 0
        deadline = time.monotonic() + DEADLINE_SECONDS
        while unsettled() and time.monotonic() < deadline:
            sent += await deliver_due(settings)
        return sent

    started = time.perf_counter()
    sent = asyncio.run(drain())
    return {
        "messages": sent,
        "seconds": time.perf_counter() - started,
        "peak_rss_kb": peak_rss_kb(),
    }


def floor_child() -> dict[str, float]:
    """A plain aiosmtplib loop: the same messages, prebuilt, over the same connections."""
    import aiosmtplib
    from sqlalchemy import select

    from core.settings import get_settings
    from db.models import OutboxMessage
    from db.session import transaction
    from mail.message import MessageBytes
    from mail.transport import sender_address

    settings = get_settings()
    sender = sender_address(settings)
    # The same bytes the email package would write (tests/mail/test_sender_units.py),
    # built in a second rather than thirty: building is not part of what is timed.
    messages = MessageBytes(settings.mail_from)
    with transaction() as session:
        rows = list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        work = [(row.to_addr, messages.render(row, True)) for row in rows]

    async def connection() -> int:
        sent = 0
        async with aiosmtplib.SMTP(hostname=settings.smtp_host, port=settings.smtp_port) as smtp:
            while work:
                to, data = work.pop()
                await smtp.sendmail(sender, [to], data, mail_options=["BODY=8BITMIME"])
                sent += 1
        return sent

    async def send_all() -> int:
        return sum(await asyncio.gather(*(connection() for _ in range(settings.smtp_connections))))

    started = time.perf_counter()
    sent = asyncio.run(send_all())
    return {
        "messages": sent,
        "seconds": time.perf_counter() - started,
        "peak_rss_kb": peak_rss_kb(),
    }


def peak_rss_kb() -> float:
    """This process's peak resident memory since it started running Python.

    Not ru_maxrss: after fork it carries the parent's size over the exec, and the parent
    holds the 10,000-parent school. VmHWM belongs to the new program's own memory map.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return float(line.split()[1])
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


# --- the parent -----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def find_sink() -> str:
    found = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
    if not os.access(found, os.X_OK):
        sys.exit("smtp-sink not found: install Debian's postfix package (make bench does, as root)")
    return found


class Sink:
    """A Postfix smtp-sink process that counts the messages it accepts."""

    def __init__(self, port: int, log: Path) -> None:
        command = [find_sink(), "-c"]
        if os.geteuid() == 0:
            command += ["-u", "nobody"]  # smtp-sink refuses to keep root privileges
        self.log = log
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [*command, f"127.0.0.1:{port}", "1000"], stdout=out, stderr=subprocess.STDOUT
            )
        wait_for_port(port)
        if self.process.poll() is not None:
            sys.exit(f"smtp-sink exited at once (port {port} taken?); see {log}")

    def stop(self) -> int:
        """Stop the sink and return how many messages it accepted."""
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(10)
        counts = re.findall(rb"mesg=(\d+)", self.log.read_bytes())
        return int(counts[-1]) if counts else 0


def wait_for_port(port: int, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    sys.exit(f"nothing listens on 127.0.0.1:{port}")


def run_child(role: str, env: dict[str, str], port: int, workdir: Path) -> Run:
    """Run one child against a fresh sink and read its report."""
    sink = Sink(port, workdir / f"sink-{role}.log")
    try:
        child = subprocess.Popen(
            [sys.executable, __file__, f"--{role}"], env=env, stdout=subprocess.PIPE
        )
        assert child.stdout is not None
        output = child.stdout.read()
        child.wait()
    finally:
        accepted = sink.stop()
    if child.returncode != 0:
        sys.exit(f"the {role} child failed with exit code {child.returncode}")
    report = json.loads(output.decode().strip().splitlines()[-1])
    return Run(
        messages=int(report["messages"]),
        seconds=float(report["seconds"]),
        peak_rss_mb=float(report["peak_rss_kb"]) / 1024,
        accepted_by_sink=accepted,
    )


def queue_letter(url: str) -> tuple[int, float]:
    """Seed the school and queue the letter as the flow step does; returns (rows, seconds)."""
    from sqlalchemy import select

    from casework.demo import seed_demo
    from db.cases import NewCase, open_case
    from db.migrate import upgrade
    from db.models import IncidentType, Person, Role, utcnow
    from db.session import transaction
    from flows.steps.letters import send_parent_letter

    upgrade(url)
    with transaction() as session:
        school = seed_demo(session, parents=PARENTS)
        assert school is not None
        staff = session.scalars(select(Person).where(Person.role == Role.STAFF)).first()
        lead = session.scalars(select(Person).where(Person.role == Role.DSL)).one()
        assert staff is not None
        case_id = open_case(
            session,
            school_id=school.id,
            reporter=staff,
            lead=lead,
            new=NewCase(
                IncidentType.PUPIL_CONTACT,
                "Instagram",
                utcnow(),
                "Benchmark incident.",
                {
                    "pupil_name": "Jordan Miles",
                    "pupil_year_group": "Year 6",
                    "pupil_reference": "",
                    "pupil_account": "",
                    "contact_continued": False,
                },
            ),
        ).id
    started = time.perf_counter()
    queued = asyncio.run(send_parent_letter.fn(case_id))
    return queued, time.perf_counter() - started


def sent_rows(url: str) -> tuple[int, int]:
    """Rows marked sent, and their distinct Message-IDs."""
    from sqlalchemy import distinct, func, select

    from db.models import OutboxMessage, OutboxStatus
    from db.session import transaction

    with transaction(url) as session:
        sent = OutboxMessage.status == OutboxStatus.SENT
        rows = session.scalar(select(func.count()).select_from(OutboxMessage).where(sent))
        ids = session.scalar(select(func.count(distinct(OutboxMessage.message_id))).where(sent))
        return int(rows or 0), int(ids or 0)


def reset_outbox(url: str) -> None:
    """Put every row back to pending, for a second timed sender run."""
    from sqlalchemy import update

    from db.models import OutboxMessage, OutboxStatus, utcnow
    from db.session import transaction

    with transaction(url) as session:
        session.execute(
            update(OutboxMessage).values(
                status=OutboxStatus.PENDING, attempts=0, next_attempt_at=utcnow(), sent_at=None
            )
        )


def main() -> None:
    rounds = max(1, int(os.environ.get("CASEWORK_BENCH_ROUNDS", "5")))
    with tempfile.TemporaryDirectory(prefix="casework-bench-") as tmp:
        workdir = Path(tmp)
        url = f"sqlite:///{workdir / 'casework.db'}"
        port = free_port()
        env = {
            **os.environ,
            "CASEWORK_DATABASE_URL": url,
            "CASEWORK_VAR_DIR": str(workdir / "var"),
            "CASEWORK_SMTP_HOST": "127.0.0.1",
            "CASEWORK_SMTP_PORT": str(port),
            "PREFECT_API_URL": "http://127.0.0.1:9/api",  # no Prefect is involved
        }
        os.environ.update(env)
        from core.settings import get_settings

        get_settings.cache_clear()
        print(f"Queueing the letter to {PARENTS:,} parents ...", flush=True)
        queued, queue_seconds = queue_letter(url)
        floors: list[Run] = []
        senders: list[SenderRun] = []
        for n in range(1, rounds + 1):
            floors.append(run_child("floor", env, port, workdir))
            print(f"round {n}: floor  {floors[-1].line()}", flush=True)
            if n > 1:
                reset_outbox(url)
            run = run_child("sender", env, port, workdir)
            senders.append(SenderRun(run, *sent_rows(url)))
            print(f"round {n}: sender {run.line()}", flush=True)
        report(queued, queue_seconds, get_settings().smtp_connections, floors, senders)


@dataclass(frozen=True)
class SenderRun:
    run: Run
    rows_sent: int
    message_ids: int

    @property
    def duplicates(self) -> int:
        """Messages the sink took beyond one per Message-ID (each sent row was taken once)."""
        return self.run.accepted_by_sink - self.message_ids


def report(
    queued: int,
    queue_seconds: float,
    connections: int,
    floors: list[Run],
    senders: list[SenderRun],
) -> None:
    # Each round times the floor and then the sender, back to back: the ratio within a round
    # is what this shared machine's ups and downs disturb least, so the median of those
    # is the figure that counts.
    ratios = [item.run.rate / floor.rate for floor, item in zip(floors, senders, strict=True)]
    ratio = statistics.median(ratios)
    peak_rss = max(item.run.peak_rss_mb for item in senders)
    duplicates = sum(item.duplicates for item in senders)
    unsent = sum(queued - item.rows_sent for item in senders)
    line = "-" * 78
    print()
    print(
        f"Letter to {queued:,} parents: SQLite, Postfix smtp-sink, {connections} SMTP connections"
    )
    print(line)
    print(f"{'round':<8}{'floor msg/s':>14}{'sender msg/s':>14}{'ratio':>8}{'sender RSS':>13}")
    for n, (floor, item) in enumerate(zip(floors, senders, strict=True), start=1):
        print(
            f"{n:<8}{floor.rate:>14,.0f}{item.run.rate:>14,.0f}{ratios[n - 1]:>8.2f}"
            f"{item.run.peak_rss_mb:>10.0f} MB"
        )
    best_floor = max(run.rate for run in floors)
    best_sender = max(item.run.rate for item in senders)
    print(f"{'best':<8}{best_floor:>14,.0f}{best_sender:>14,.0f}{best_sender / best_floor:>8.2f}")
    print(line)
    print(
        f"{'sender / floor, median':28}{ratio:>8.2f}   goal >= {RATIO_GOAL:<6}"
        f"{verdict(ratio >= RATIO_GOAL)}"
    )
    print(
        f"{'sender peak RSS, MB':28}{peak_rss:>8.0f}   goal <= {RSS_GOAL_MB:<6}"
        f"{verdict(peak_rss <= RSS_GOAL_MB)}"
    )
    print(f"{'duplicates at the sink':28}{duplicates:>8}   goal 0     {verdict(duplicates == 0)}")
    print(f"{'rows left unsent':28}{unsent:>8}   goal 0     {verdict(unsent == 0)}")
    print(line)
    for n, item in enumerate(senders, start=1):
        print(
            f"Sender round {n}: {item.rows_sent:,} rows marked sent, {item.message_ids:,} "
            f"distinct Message-IDs; the sink accepted {item.run.accepted_by_sink:,} messages."
        )
    print(
        f"Floor peak RSS {max(run.peak_rss_mb for run in floors):.0f} MB (it holds every message)."
    )
    print(f"Queueing the letter (the send_parent_letter step) took {queue_seconds:.1f} s.")
    save_figures(queued, floors, senders, ratios, peak_rss, duplicates, unsent)


def save_figures(
    queued: int,
    floors: list[Run],
    senders: list[SenderRun],
    ratios: list[float],
    peak_rss: float,
    duplicates: int,
    unsent: int,
) -> None:
    """The figures above, for `make bench`'s table (bench/results.py)."""
    from results import Figure, save

    # The round whose ratio is the median (the lower one of an even number), so the table's
    # ratio is a ratio one round measured.
    middle = ratios.index(statistics.median_low(ratios))
    rate, floor_rate = senders[middle].run.rate, floors[middle].rate
    name = f"letter to {queued:,} parents"
    save(
        "letters",
        [
            Figure(
                "letters",
                f"{name}, sender rate (median round)",
                rate,
                "messages/s",
                floor_rate,
                f"ratio >= {RATIO_GOAL}",
                rate / floor_rate >= RATIO_GOAL,
            ),
            Figure(
                "letters",
                f"{name}, sender peak RSS",
                peak_rss,
                "MB",
                None,
                f"<= {RSS_GOAL_MB} MB",
                peak_rss <= RSS_GOAL_MB,
            ),
            Figure(
                "letters",
                f"{name}, duplicates at the sink",
                duplicates,
                "messages",
                None,
                "0",
                duplicates == 0,
            ),
            Figure("letters", f"{name}, rows left unsent", unsent, "rows", None, "0", unsent == 0),
        ],
    )


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] in ("--sender", "--floor"):
        result = sender_child() if sys.argv[1] == "--sender" else floor_child()
        print(json.dumps(result), flush=True)
    else:
        main()
