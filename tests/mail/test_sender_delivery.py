"""The concurrent outbox sender against a real SMTP server on loopback, on real databases.

The server is aiosmtpd with a handler that keeps, in memory, each accepted message's
connection, Message-ID and recipients, and can defer or refuse on cue.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select, update

from core.settings import PROJECT_ROOT, Settings, get_settings
from core.templating import RenderedEmail
from db.models import OutboxMessage, OutboxStatus, utcnow
from db.outbox import queue_email
from db.session import transaction
from mail import sender as mailer
from mail.catcher import free_port
from mail.sender import deliver_due
from tests.support import SQLITE_ONLY, audit_kinds, count, make_case, wait_until

MESSAGE_ID = re.compile(rb"^Message-ID:[ \t]*(<[^>\r\n]+>)", re.IGNORECASE | re.MULTILINE)
LETTER = RenderedEmail(
    subject="A letter to parents and carers",
    text="Dear parent or carer,\n\nA short letter about online safety.\n",
    html="<p>Dear parent or carer,</p><p>A short letter about online safety.</p>",
)


@dataclass(frozen=True)
class Received:
    peer: Any  # (host, port) of the client: one per connection
    message_id: str
    rcpt_tos: list[str]
    started: float  # when MAIL FROM arrived: when the sender began this message


class Recorder:
    """aiosmtpd handler keeping what these tests count; `refuse`/`defer` give other answers."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        # Per connection, when its current message began (MAIL FROM), which is what the rate
        # limit paces. The end of DATA is no measure of it: on a busy machine one message's
        # end can come late and the next one's not, so two look closer than they were sent.
        self.mail_from_at: dict[Any, float] = {}
        self.active = 0
        self.peak = 0
        self.delay = 0.0
        self.refuse: Callable[[str], str | None] = lambda address: None
        self.defer: Callable[[str], str | None] = lambda message_id: None

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, mail_options: list[str]
    ) -> str:
        self.mail_from_at[session.peer] = time.monotonic()
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        answer = self.refuse(address)
        if answer:
            return answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.active += 1
        self.peak = max(self.peak, self.active)
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            head = bytes(envelope.content).split(b"\r\n\r\n", 1)[0]
            found = MESSAGE_ID.search(head)
            message_id = found.group(1).decode() if found else ""
            answer = self.defer(message_id)
            if answer:
                return answer
            started = self.mail_from_at[session.peer]
            self.received.append(
                Received(session.peer, message_id, list(envelope.rcpt_tos), started)
            )
            return "250 OK"
        finally:
            self.active -= 1

    def message_ids(self) -> Counter[str]:
        return Counter(mail.message_id for mail in self.received)


class Server:
    """A restartable SMTP server on one loopback port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.handler = Recorder()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(
            self.handler,
            hostname="127.0.0.1",
            port=self.port,
            server_hostname="localhost",
            ready_timeout=10,
        )
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def server(configured: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    running = Server()
    running.start()
    set_env(monkeypatch, CASEWORK_SMTP_PORT=str(running.port))
    yield running
    running.stop()


def set_env(monkeypatch: pytest.MonkeyPatch, **values: str) -> None:
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()


def queue_many(
    url: str,
    how_many: int,
    *,
    prefix: str = "parent",
    kind: str = "parent_letter",
    case_id: int | None = None,
) -> list[int]:
    """Queue one row per recipient, in bulk, as the letter step does."""
    with transaction(url) as session:
        return [
            queue_email(
                session,
                dedup_key=f"{prefix}:{n}",
                to=f"{prefix}{n}@families.example",
                email=LETTER,
                kind=kind,
                case_id=case_id,
                audit=False,
            ).id
            for n in range(how_many)
        ]


def send() -> int:
    return asyncio.run(deliver_due(get_settings()))


def make_due(url: str) -> None:
    """Skip the backoff wait, as time passing would."""
    with transaction(url) as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.status == OutboxStatus.PENDING)
            .values(next_attempt_at=utcnow())
        )


def outbox(url: str) -> list[OutboxMessage]:
    with transaction(url) as session:
        rows = list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
        session.expunge_all()
        return rows


def statuses(url: str) -> Counter[str]:
    return Counter(row.status.value for row in outbox(url))


def test_four_connections_carry_a_letter_side_by_side(configured: Settings, server: Server) -> None:
    url = configured.database_url
    case_id = make_case(url)
    queue_many(url, 40, case_id=case_id)
    queue_many(url, 1, prefix="head", kind="new_case", case_id=case_id)
    server.handler.delay = 0.03  # long enough for every connection to be mid-message at once
    assert send() == 41
    received = server.handler.received
    assert len({mail.peer for mail in received}) == 4
    assert server.handler.peak == 4
    assert all(len(mail.rcpt_tos) == 1 for mail in received)
    assert server.handler.message_ids() == Counter({row.message_id: 1 for row in outbox(url)})
    assert statuses(url) == {"sent": 41}
    # One audit event for the whole letter (written when queued), none per parent.
    assert audit_kinds(url, case_id).count("email.sent") == 1
    assert send() == 0, "nothing is sent twice"


def test_an_outage_loses_nothing_and_each_message_goes_once_after_it(
    configured: Settings, server: Server
) -> None:
    url = configured.database_url
    server.stop()
    queue_many(url, 200)
    for _ in range(10):  # more than outbox_max_attempts: an outage never fails mail
        assert send() == 0
        make_due(url)
    waiting = outbox(url)
    assert {row.status for row in waiting} == {OutboxStatus.PENDING}
    assert {row.attempts for row in waiting} == {10}
    assert all("connect" in row.last_error.lower() for row in waiting)
    server.start()
    assert send() == 200
    assert server.handler.message_ids() == Counter({row.message_id: 1 for row in waiting})
    assert statuses(url) == {"sent": 200}


def test_the_server_dying_mid_letter_loses_nothing(configured: Settings, server: Server) -> None:
    url = configured.database_url
    rows = queue_many(url, 200)
    server.handler.delay = 0.005
    sender = threading.Thread(target=send)
    sender.start()
    wait_until(lambda: len(server.handler.received) >= 50, timeout=20, interval=0.005)
    server.stop()
    sender.join(30)
    assert not sender.is_alive()
    after_outage = statuses(url)
    assert set(after_outage) <= {"sent", "pending"}, "none failed, none left sending"
    assert after_outage["sent"] <= len(server.handler.message_ids())
    server.start()
    make_due(url)
    send()
    assert statuses(url) == {"sent": 200}
    seen = server.handler.message_ids()
    assert set(seen) == {row.message_id for row in outbox(url)} and len(rows) == len(seen)
    # Only a message the server took just as it died can arrive twice.
    assert sum(seen.values()) - len(seen) <= configured.smtp_connections


def test_a_silent_server_times_out_and_the_mail_waits(
    configured: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = configured.database_url
    with socket.socket() as silent:  # completes the TCP handshake, never says a word
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        set_env(
            monkeypatch,
            CASEWORK_SMTP_PORT=str(silent.getsockname()[1]),
            CASEWORK_SMTP_TIMEOUT_SECONDS="0.3",
        )
        queue_many(url, 5)
        assert send() == 0
    waiting = outbox(url)
    assert {row.status for row in waiting} == {OutboxStatus.PENDING}
    assert all("timed out" in row.last_error.lower() for row in waiting)


def test_451_is_retried_and_550_failed_over_four_connections(
    configured: Settings, server: Server
) -> None:
    url = configured.database_url
    case_id = make_case(url)
    queue_many(url, 15, case_id=case_id)
    queue_many(url, 5, prefix="gone", case_id=case_id)
    deferred: set[str] = set()

    def defer_once(message_id: str) -> str | None:
        if message_id in deferred:
            return None
        deferred.add(message_id)
        return "451 4.3.0 Try again later"

    server.handler.defer = defer_once
    server.handler.refuse = lambda address: (
        "550 5.1.1 No such mailbox" if address.startswith("gone") else None
    )
    assert send() == 0
    first = outbox(url)
    failed = [row for row in first if row.status == OutboxStatus.FAILED]
    assert sorted(row.to_addr for row in failed) == [f"gone{n}@families.example" for n in range(5)]
    assert all("550" in row.last_error for row in failed)
    later = [row for row in first if row.status == OutboxStatus.PENDING]
    assert len(later) == 15 and all("451" in row.last_error for row in later)
    assert audit_kinds(url, case_id).count("email.failed") == 5
    make_due(url)
    assert send() == 15
    assert server.handler.message_ids() == Counter({row.message_id: 1 for row in later})
    assert statuses(url) == {"sent": 15, "failed": 5}


def test_a_temporary_answer_fails_after_the_last_attempt(
    configured: Settings, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = configured.database_url
    set_env(monkeypatch, CASEWORK_OUTBOX_MAX_ATTEMPTS="2")
    queue_many(url, 3)
    server.handler.defer = lambda message_id: "452 4.2.2 Mailbox full"
    send()
    assert statuses(url) == {"pending": 3}
    make_due(url)
    send()
    assert statuses(url) == {"failed": 3}
    assert all("452" in row.last_error for row in outbox(url))


def test_the_rate_limit_spaces_messages(
    configured: Settings, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_env(monkeypatch, CASEWORK_SMTP_RATE_PER_MINUTE="120")  # one every 0.5 s
    queue_many(configured.database_url, 6)
    assert send() == 6
    times = sorted(mail.started for mail in server.handler.received)
    assert times[-1] - times[0] >= 2.3  # 2.5 s in theory; the server's clock adds jitter
    assert min(b - a for a, b in itertools.pairwise(times)) >= 0.3


def test_two_senders_at_once_never_send_a_row_twice(
    configured: Settings, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_env(monkeypatch, CASEWORK_OUTBOX_CLAIM_BATCH="20")  # many claims, interleaved

    async def both() -> list[int]:
        settings = get_settings()
        return list(await asyncio.gather(deliver_due(settings), deliver_due(settings)))

    queue_many(configured.database_url, 300)
    assert sum(asyncio.run(both())) == 300
    assert sorted(server.handler.message_ids().values()) == [1] * 300


def test_a_long_pass_keeps_its_claim(
    configured: Settings, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows waiting in a live sender's queue are not taken for dead by a second sender."""
    # A 2 s lease, renewed every 0.67 s: a commit held up for a second by the other tests'
    # work on a busy machine must not look like a dead sender.
    set_env(monkeypatch, CASEWORK_OUTBOX_STALE_SENDING_SECONDS="2", CASEWORK_SMTP_CONNECTIONS="1")
    server.handler.delay = 0.1
    queue_many(configured.database_url, 40)  # about 4 s on one connection

    async def second_sender_later() -> int:
        # Once the first sender has claimed and begun (on a busy machine that can take a
        # while), wait until its claim's lease would have run out, with rows still queued.
        while not server.handler.message_ids():
            await asyncio.sleep(0.05)
        await asyncio.sleep(2.5)
        return await deliver_due(get_settings())

    async def both() -> list[int]:
        return list(await asyncio.gather(deliver_due(get_settings()), second_sender_later()))

    assert asyncio.run(both()) == [40, 0]
    assert sorted(server.handler.message_ids().values()) == [1] * 40


def test_a_row_left_sending_is_resent_with_its_message_id_after_the_grace_period(
    configured: Settings, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = configured.database_url
    set_env(monkeypatch, CASEWORK_OUTBOX_STALE_SENDING_SECONDS="60")
    abandoned, recent = queue_many(url, 2)
    with transaction(url) as session:
        for row_id, age in ((abandoned, 120), (recent, 10)):
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == row_id)
                .values(
                    status=OutboxStatus.SENDING,
                    attempts=1,
                    next_attempt_at=utcnow() - timedelta(seconds=age),
                )
            )
    assert send() == 1
    first, second = outbox(url)
    assert first.status == OutboxStatus.SENT and first.attempts == 2
    assert server.handler.message_ids() == Counter({first.message_id: 1})
    assert second.status == OutboxStatus.SENDING, "its sender may still be working on it"


SENDER = """
import asyncio, signal
from casework.sending import run_sender

async def main() -> None:
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await run_sender(stop, idle_seconds=0.1)

asyncio.run(main())
"""


def start_sender() -> subprocess.Popen[bytes]:
    """The sender as its own process, with this test's environment."""
    return subprocess.Popen([sys.executable, "-c", SENDER], cwd=PROJECT_ROOT, env=dict(os.environ))


def test_sigkill_at_a_quarter_half_and_three_quarters_of_a_2000_parent_letter(
    configured: Settings, server: Server
) -> None:
    """Killed three times mid-letter and started again each time, the sender gets every parent
    the letter, with at most one duplicate per open connection for each kill.

    The rows a killed sender held are not left for their 5-minute lease: the next sender of
    the same name reads its crash journal at start-up, marks what the server had accepted as
    sent and sends the rest at once (the whole letter must be done well inside the lease).
    """
    url = configured.database_url
    assert configured.outbox_stale_sending_seconds >= 300
    case_id = make_case(url)
    queue_many(url, 2000, case_id=case_id)
    handler = server.handler
    at_kills: list[int] = []  # duplicates the server had seen when each kill came
    sender = start_sender()
    try:
        for share in (500, 1000, 1500):
            wait_until(lambda: len(handler.received) >= share, timeout=30, interval=0.002)  # noqa: B023
            sender.send_signal(signal.SIGKILL)
            sender.wait(10)
            at_kills.append(duplicates(handler))
            assert len(handler.received) < 2000, "the kill must land before the letter is done"
            sender = start_sender()
        wait_until(
            lambda: count(url, OutboxMessage, OutboxMessage.status == OutboxStatus.SENT) == 2000,
            timeout=60,
            what="every row sent",
        )
    finally:
        sender.send_signal(signal.SIGTERM)
        sender.wait(10)
    # A kill's duplicates are resent first (its rows are the oldest), long before the next.
    marks = [*at_kills, duplicates(handler)]
    duplicates_per_kill = [after - before for before, after in itertools.pairwise(marks)]
    rows = outbox(url)
    by_recipient: dict[str, set[str]] = {}
    for mail in handler.received:
        by_recipient.setdefault(mail.rcpt_tos[0], set()).add(mail.message_id)
    assert by_recipient == {row.to_addr: {row.message_id} for row in rows}, "a parent missed"
    print(f"\nduplicates at each kill: {duplicates_per_kill}")
    assert all(d <= configured.smtp_connections for d in duplicates_per_kill)
    assert "email.sent" not in audit_kinds(url, case_id)


def duplicates(handler: Recorder) -> int:
    """Messages the server received more than once (by Message-ID)."""
    seen = handler.message_ids()
    return sum(seen.values()) - len(seen)


@SQLITE_ONLY  # two processes and a file lock; the claims' SQL is the other tests' on both
def test_a_second_sender_of_the_same_name_runs_under_one_of_its_own(
    configured: Settings, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two sender processes on one machine left unnamed: the second must not take the
    first's rows for a dead predecessor's. It claims under a name of its own instead."""
    set_env(monkeypatch, CASEWORK_OUTBOX_CLAIM_BATCH="20")
    server.handler.delay = 0.05  # about 4 s of mail: both are sure to be sending
    queue_many(configured.database_url, 300)
    senders = [start_sender(), start_sender()]
    try:
        wait_until(lambda: len(server.handler.received) >= 300, timeout=30, what="every message")
    finally:
        for sender in senders:
            sender.send_signal(signal.SIGTERM)
            sender.wait(10)
    assert sorted(server.handler.message_ids().values()) == [1] * 300
    names = {row.claimed_by for row in outbox(configured.database_url)}
    assert configured.sender_name in names and len(names) == 2


def test_stopping_mid_pass_gives_back_what_was_not_tried(
    configured: Settings, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A worker told to stop (SIGTERM) while waiting on a slow rate limit quits at once."""
    monkeypatch.setattr(mailer, "_limiters", {})  # no slots left over from another test
    set_env(monkeypatch, CASEWORK_SMTP_RATE_PER_MINUTE="1")
    url = configured.database_url
    queue_many(url, 3)

    async def stop_soon() -> int:
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(0.5, stop.set)
        return await deliver_due(get_settings(), stop=stop)

    started = time.monotonic()
    assert asyncio.run(stop_soon()) == 1
    assert time.monotonic() - started < 5
    rows = outbox(url)
    # Whichever connection got the limiter's first slot sent its row; the others gave theirs
    # back untried.
    assert sorted((row.status.value, row.attempts) for row in rows) == [
        ("pending", 0),
        ("pending", 0),
        ("sent", 1),
    ], "an untried row keeps its attempts"


def test_urgent_mail_and_notices_go_before_a_letter_queued_ahead_of_them(
    configured: Settings, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = configured.database_url
    set_env(monkeypatch, CASEWORK_SMTP_CONNECTIONS="1")  # one queue, so the order shows
    letters = queue_many(url, 5)
    with transaction(url) as session:
        notice = queue_email(
            session, dedup_key="notice", to="head@oakfield.example", email=LETTER, kind="new_case"
        ).id
        urgent = queue_email(
            session,
            dedup_key="urgent",
            to="dsl@oakfield.example",
            email=LETTER,
            kind="dsl_alert",
            priority=10,
        ).id
    assert send() == 7
    by_id = {row.message_id: row.id for row in outbox(url)}
    assert [by_id[mail.message_id] for mail in server.handler.received] == [
        urgent,
        notice,
        *letters,
    ]


def test_an_idle_sender_sees_new_mail_without_claiming(configured: Settings) -> None:
    """The idle sender's look for mail: due rows only, and it takes no row for itself."""
    from db.outbox_claims import mail_due

    url = configured.database_url
    assert not mail_due()
    (later,) = queue_many(url, 1, prefix="later")
    with transaction(url) as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == later)
            .values(next_attempt_at=utcnow() + timedelta(minutes=5))
        )
    assert not mail_due(), "waiting for its retry: not due"
    queue_many(url, 1)
    assert mail_due()
    assert statuses(url) == Counter({"pending": 2}), "looking claimed nothing"
