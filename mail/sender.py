"""The outbox sender: the delivery loop that feeds due mail to the SMTP server.

A pass claims due rows in batches and feeds them to `smtp_connections` workers, each holding
one reused SMTP connection. Every row goes as its own message to its one recipient with the
Message-ID stored on the row, so a retry is recognisably the same message. Answers are
written in small batches, and a row is only marked sent once the server has accepted it.

What can go wrong, and what happens:

- no answer at all (refused, timed out, dropped, 421): the row waits, with backoff, however
  long the outage lasts;
- a temporary answer (4xx): retried with capped exponential backoff, failed after
  `outbox_max_attempts`;
- a permanent answer (5xx): failed at once, with the server's words;
- the process dies: its rows stay `sending` and are claimed again once their lease
  (`outbox_stale_sending_seconds`, renewed while a pass runs) has run out, then resent with
  the same Message-ID. Only messages accepted but not yet recorded can reach the server
  twice: at most `smtp_connections` x (`outbox_record_batch` + 1) of them.

Wire bytes are built in `mail.message` and SMTP is spoken in `mail.transport`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

import aiosmtplib
from sqlalchemy import Row, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from core.settings import Settings, get_settings
from db.audit import record_event
from db.models import OutboxBody, OutboxMessage, OutboxStatus, utcnow
from db.session import transaction
from mail.message import MessageBytes
from mail.transport import (
    CONNECTION_ERRORS,
    Outcome,
    close_quietly,
    open_connection,
    send_one,
    sender_address,
)

log = logging.getLogger("mail.sender")
T = TypeVar("T")

# The letter to all parents gets one audit event when it is queued, not one per parent.
LETTER_KIND = "parent_letter"

RECORD_TRIES = 5
RECORD_LINGER_SECONDS = 0.02
THOROUGH_CLAIM_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class Claimed:
    """An outbox row taken for sending, detached from the database."""

    id: int
    kind: str
    case_id: int | None
    to_addr: str
    subject: str
    text_body: str
    html_body: str
    message_id: str
    created_at: datetime
    attempts: int
    priority: int = 0


class RateLimiter:
    """Spaces message starts evenly, so no more than `per_minute` begin in any minute."""

    def __init__(
        self,
        per_minute: int,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self.interval = 60.0 / per_minute if per_minute > 0 else 0.0
        self._clock = clock
        self._sleep = sleep
        self._next = -math.inf

    async def wait(self) -> None:
        if not self.interval:
            return
        now = self._clock()
        slot = max(now, self._next)
        self._next = slot + self.interval
        if slot > now:
            await self._sleep(slot - now)


_limiters: dict[int, RateLimiter] = {}


def shared_limiter(per_minute: int) -> RateLimiter:
    """One limiter per process: the provider counts the whole process's mail, not one pass."""
    if per_minute not in _limiters:
        _limiters[per_minute] = RateLimiter(per_minute)
    return _limiters[per_minute]


# --- the database side ----------------------------------------------------------------


def backoff(settings: Settings, attempts: int) -> timedelta:
    seconds = settings.outbox_backoff_seconds * (2 ** max(attempts - 1, 0))
    return timedelta(seconds=min(seconds, settings.outbox_backoff_cap_seconds))


def claim_size(settings: Settings) -> int:
    """Rows per claim; under a rate limit about ten seconds' worth, so nothing urgent
    queued meanwhile waits long behind rows already claimed."""
    size = max(1, settings.outbox_claim_batch)
    rate = settings.smtp_rate_per_minute
    return min(size, max(rate // 6, settings.smtp_connections)) if rate > 0 else size


CLAIM_COLUMNS = (
    OutboxMessage.priority,
    OutboxMessage.id,
    OutboxMessage.kind,
    OutboxMessage.case_id,
    OutboxMessage.to_addr,
    OutboxMessage.body_id,
    OutboxMessage.message_id,
    OutboxMessage.created_at,
    OutboxMessage.attempts,
)

Body = tuple[str, str, str]  # subject, text, html


class BodyCache:
    """The bodies a sender has read, by id: a letter's is read once, not once per parent."""

    def __init__(self, keep: int = 64) -> None:
        self._keep = keep
        self._bodies: dict[int, Body] = {}

    def known(self, ids: set[int]) -> dict[int, Body]:
        return {i: self._bodies[i] for i in ids if i in self._bodies}

    def add(self, bodies: dict[int, Body]) -> None:
        if len(self._bodies) + len(bodies) > self._keep:
            self._bodies.clear()
        self._bodies.update(bodies)


def read_bodies(session: Session, ids: set[int]) -> dict[int, Body]:
    if not ids:
        return {}
    found = session.execute(
        select(OutboxBody.id, OutboxBody.subject, OutboxBody.text_body, OutboxBody.html_body).where(
            OutboxBody.id.in_(ids)
        )
    ).all()
    return {row.id: (row.subject, row.text_body, row.html_body) for row in found}


def claim_due(
    settings: Settings, limit: int, thorough: bool = True, bodies: BodyCache | None = None
) -> list[Claimed]:
    """Mark up to `limit` due rows as sending, oldest first.

    A `thorough` claim also takes rows whose sender's lease ran out (it died), and puts
    sign-in links and notices before any letter (urgent ones first, by `priority`), so they
    never wait behind a 2,000-parent letter queued ahead of them. It reads every waiting
    row: once a second is plenty.
    """
    now = utcnow()
    lease_ended = now - timedelta(seconds=settings.outbox_stale_sending_seconds)
    due = (OutboxMessage.status == OutboxStatus.PENDING) & (OutboxMessage.next_attempt_at <= now)
    is_letter = OutboxMessage.kind == LETTER_KIND
    abandoned = (OutboxMessage.status == OutboxStatus.SENDING) & (
        OutboxMessage.next_attempt_at <= lease_ended
    )
    # Simple queries rather than one with OR and a computed ORDER BY: each walks the status
    # index in id order and stops at `limit`, where one query sorted every due row.
    oldest_first = (OutboxMessage.id,)
    wanted = (
        [
            (abandoned, oldest_first),
            (due & ~is_letter, (OutboxMessage.priority.desc(), OutboxMessage.id)),
            (due & is_letter, oldest_first),
        ]
        if thorough
        else [(due, oldest_first)]
    )
    with transaction() as session:
        found: list[Any] = []  # Row objects
        for condition, order in wanted:
            if len(found) < limit:
                found += session.execute(
                    select(*CLAIM_COLUMNS)
                    .where(condition)
                    .order_by(*order)
                    .limit(limit - len(found))
                    .with_for_update(skip_locked=True)
                ).all()
        needed = {r.body_id for r in found}
        have = bodies.known(needed) if bodies is not None else {}
        fresh = read_bodies(session, needed - have.keys())
        if bodies is not None:
            bodies.add(fresh)
        have |= fresh
        if found:
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_([r.id for r in found]))
                .values(
                    status=OutboxStatus.SENDING,
                    attempts=OutboxMessage.attempts + 1,
                    next_attempt_at=now,
                )
                .execution_options(synchronize_session=False)
            )
    return [claimed(r, have[r.body_id]) for r in found]


def claimed(r: Row[Any], body: Body) -> Claimed:
    subject, text_body, html_body = body
    return Claimed(
        id=r.id,
        kind=r.kind,
        case_id=r.case_id,
        to_addr=r.to_addr,
        subject=subject,
        text_body=text_body,
        html_body=html_body,
        message_id=r.message_id,
        created_at=r.created_at,
        attempts=r.attempts + 1,
        priority=r.priority,
    )


def update_sending(session: Session, ids: Sequence[int], **values: object) -> int:
    """Update the rows still marked sending; returns how many there were."""
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(ids), OutboxMessage.status == OutboxStatus.SENDING)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def renew_leases(ids: Sequence[int]) -> None:
    """Tell other senders these rows are still being worked on."""
    with transaction() as session:
        update_sending(session, ids, next_attempt_at=utcnow())


def release(ids: Sequence[int]) -> None:
    """Give back rows claimed but never tried (shutdown): due now, the attempt not counted."""
    with transaction() as session:
        update_sending(
            session,
            ids,
            status=OutboxStatus.PENDING,
            next_attempt_at=utcnow(),
            attempts=OutboxMessage.attempts - 1,
        )


def record_outcomes(settings: Settings, results: Sequence[tuple[Claimed, Outcome]]) -> None:
    """Write what the server said about each row, in one transaction."""
    now = utcnow()
    with transaction() as session:
        sent = [row for row, outcome in results if outcome.sent]
        if sent:
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_([row.id for row in sent]))
                .values(status=OutboxStatus.SENT, sent_at=now, last_error="")
                .execution_options(synchronize_session=False)
            )
        for row in sent:
            if row.case_id is not None and row.kind != LETTER_KIND:
                record_event(
                    session,
                    case_id=row.case_id,
                    kind="email.sent",
                    data={"outbox_id": row.id, "kind": row.kind},
                )
        for row, outcome in results:
            if not outcome.sent:
                record_failure(session, settings, row, outcome, now)


def record_failure(
    session: Session, settings: Settings, row: Claimed, outcome: Outcome, now: datetime
) -> None:
    answer = outcome.answer[:2000]
    gave_up = row.attempts >= settings.outbox_max_attempts and not outcome.unreachable
    if not (outcome.permanent or gave_up):
        retry_at = now + backoff(settings, row.attempts)
        update_sending(
            session,
            [row.id],
            status=OutboxStatus.PENDING,
            next_attempt_at=retry_at,
            last_error=answer,
        )
        return
    failed = update_sending(session, [row.id], status=OutboxStatus.FAILED, last_error=answer)
    if failed and row.case_id is not None:
        record_event(
            session,
            case_id=row.case_id,
            kind="email.failed",
            data={"outbox_id": row.id, "kind": row.kind, "answer": answer},
        )


def record_patiently(settings: Settings, results: Sequence[tuple[Claimed, Outcome]]) -> None:
    """Record, riding out a short database hiccup: an unrecorded send is a resend later."""
    for attempt in range(RECORD_TRIES):
        try:
            record_outcomes(settings, results)
            return
        except OperationalError:
            if attempt == RECORD_TRIES - 1:
                raise
            log.warning("recording %d outcome(s) failed; retrying", len(results), exc_info=True)
            time.sleep(0.2 * 2**attempt)


# --- one pass -------------------------------------------------------------------------


class Delivery:
    """One pass: claim, send over N reused connections, record, until nothing is due."""

    def __init__(self, settings: Settings, stop: asyncio.Event | None, limit: int | None):
        self.settings = settings
        self.stop = stop
        self.remaining: float = math.inf if limit is None else limit
        self.sender = sender_address(settings)
        self.messages = MessageBytes(settings.mail_from)
        self.bodies = BodyCache()
        self.limiter = shared_limiter(settings.smtp_rate_per_minute)
        self.batch = claim_size(settings)
        self.record_batch = max(1, settings.outbox_record_batch)
        self.rows: deque[Claimed] = deque()
        self.unrecorded: set[int] = set()
        # Room to keep sending through a slow commit. It also bounds the accepted messages
        # a crash can leave unrecorded (to be sent again): this queue, the batch being
        # written and one in flight per connection: connections x (record_batch + 1).
        connections = max(1, settings.smtp_connections)
        self.outcomes: asyncio.Queue[tuple[Claimed, Outcome] | None] = asyncio.Queue(
            maxsize=max(1, (connections - 1) * self.record_batch)
        )
        # One thread for all of a pass's database work: claims and records queue behind each
        # other instead of contending for SQLite's write lock and sleeping in its busy handler.
        self.database = ThreadPoolExecutor(1, thread_name_prefix="outbox-db")
        self.claiming: asyncio.Task[None] | None = None
        self.exhausted = False
        self.next_thorough_claim = -math.inf
        self.connection_error = ""
        self.finished = asyncio.Event()
        self.sent = 0
        # Urgent mail (a safeguarding alert) must reach the server before anything claimed
        # with it: other rows wait until every urgent one in flight has its answer.
        self.urgent_in_flight = 0
        self.urgent_done = asyncio.Event()

    async def run(self) -> int:
        try:
            return await self._run()
        finally:
            self.database.shutdown(wait=False)

    async def _db(self, work: Callable[..., T], *args: Any) -> T:
        """Run database work on this pass's one database thread."""
        return await asyncio.get_running_loop().run_in_executor(self.database, work, *args)

    async def _run(self) -> int:
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._record_loop())
            tasks.create_task(self._renew_loop())
            async with asyncio.TaskGroup() as senders:
                for _ in range(max(1, self.settings.smtp_connections)):
                    senders.create_task(self._connection_loop())
            await self._settle_leftovers()
            await self.outcomes.put(None)
            self.finished.set()
        return self.sent

    def _stopping(self) -> bool:
        return self.stop is not None and self.stop.is_set()

    async def _next_row(self) -> Claimed | None:
        while not self._stopping():
            if len(self.rows) <= self.batch:
                self._start_claim()  # claim the next batch while this one is sent
            if self.rows:
                if self.rows[0].priority <= 0 and self.urgent_in_flight:
                    self.urgent_done.clear()
                    await self.urgent_done.wait()
                    continue
                row = self.rows.popleft()
                # Counted as soon as it is taken, so no ordinary row slips out before it.
                self.urgent_in_flight += row.priority > 0
                return row
            if self.claiming is None:
                return None
            await asyncio.wait({self.claiming})
        return None

    def _start_claim(self) -> None:
        if self.claiming is None and not self.exhausted and self.remaining > 0:
            self.claiming = asyncio.create_task(self._claim())

    async def _claim(self) -> None:
        size = int(min(self.batch, self.remaining))
        now = time.monotonic()
        thorough = now >= self.next_thorough_claim
        if thorough:
            self.next_thorough_claim = now + THOROUGH_CLAIM_SECONDS
        try:
            rows = await self._db(claim_due, self.settings, size, thorough, self.bodies)
        except Exception:
            log.exception("claiming due mail failed; the next pass will try again")
            rows = []
        self.exhausted = len(rows) < size
        # Our own rows, should a stalled database have let their lease lapse: one copy each.
        rows = [row for row in rows if row.id not in self.unrecorded]
        self.unrecorded.update(row.id for row in rows)
        self.rows.extend(rows)
        self.remaining -= len(rows)
        self.claiming = None

    async def _connection_loop(self) -> None:
        smtp: aiosmtplib.SMTP | None = None
        try:
            while (row := await self._next_row()) is not None:
                if smtp is None:
                    try:
                        smtp = await open_connection(self.settings)
                    except Exception as exc:  # refused, timed out, TLS or login: slot lost
                        self._let_go(row)
                        self.rows.appendleft(row)
                        self.connection_error = describe(exc)
                        return
                if not await self._my_turn():
                    self._let_go(row)
                    self.rows.appendleft(row)
                    return
                outcome = await self._send_in_order(smtp, row)
                if outcome.unreachable or not smtp.is_connected:
                    await close_quietly(smtp)
                    smtp = None
                await self.outcomes.put((row, outcome))
        finally:
            if smtp is not None:
                await close_quietly(smtp)

    async def _my_turn(self) -> bool:
        """Wait for the rate limit; False when told to stop meanwhile (a slow limit is long)."""
        if not self.limiter.interval:
            return not self._stopping()
        if self.stop is None:
            await self.limiter.wait()
            return True
        turn = asyncio.ensure_future(self.limiter.wait())
        stopped = asyncio.ensure_future(self.stop.wait())
        await asyncio.wait({turn, stopped}, return_when=asyncio.FIRST_COMPLETED)
        turn.cancel()
        stopped.cancel()
        return not self._stopping()

    async def _send_in_order(self, smtp: aiosmtplib.SMTP, row: Claimed) -> Outcome:
        """Send; an urgent row holds back ordinary ones until the server has answered it."""
        try:
            return await self._send(smtp, row)
        finally:
            self._let_go(row)

    def _let_go(self, row: Claimed) -> None:
        """An urgent row is answered or handed back: ordinary rows may go once none remain."""
        if row.priority > 0:
            self.urgent_in_flight -= 1
            if not self.urgent_in_flight:
                self.urgent_done.set()

    async def _send(self, smtp: aiosmtplib.SMTP, row: Claimed) -> Outcome:
        try:
            return await send_one(smtp, row, self.messages, self.sender)
        except CONNECTION_ERRORS as exc:
            return Outcome(False, answer=describe(exc), unreachable=True)
        except Exception as exc:  # a bug or a very odd server: count it against the row
            log.exception("sending outbox row %s failed", row.id)
            return Outcome(False, answer=describe(exc))

    async def _settle_leftovers(self) -> None:
        """Rows claimed but not tried: every connection was lost, or we are stopping."""
        if self.claiming is not None:
            await asyncio.wait({self.claiming})
        leftovers = list(self.rows)
        self.rows.clear()
        if not leftovers:
            return
        if self.connection_error and not self._stopping():
            log.warning(
                "SMTP unavailable (%s); %d message(s) will be retried",
                self.connection_error,
                len(leftovers),
            )
            for row in leftovers:
                await self.outcomes.put(
                    (row, Outcome(False, answer=self.connection_error, unreachable=True))
                )
            return
        ids = [row.id for row in leftovers]
        await self._db(release, ids)
        self.unrecorded.difference_update(ids)

    async def _record_loop(self) -> None:
        done = False
        while not done:
            batch, done = await self._collect_outcomes()
            if batch:
                await self._db(record_patiently, self.settings, batch)
                self.unrecorded.difference_update(row.id for row, _ in batch)
                self.sent += sum(outcome.sent for _, outcome in batch)

    async def _collect_outcomes(self) -> tuple[list[tuple[Claimed, Outcome]], bool]:
        """Up to `record_batch` outcomes, lingering briefly for more; True once all are in."""
        first = await self.outcomes.get()
        if first is None:
            return [], True
        batch = [first]
        # A transaction per message would cost more than the message: wait a moment for
        # company. The queue stays bounded, so few accepted messages are ever unrecorded.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(RECORD_LINGER_SECONDS):
                while len(batch) < self.record_batch:
                    item = await self.outcomes.get()
                    if item is None:
                        return batch, True
                    batch.append(item)
        return batch, False

    async def _renew_loop(self) -> None:
        every = max(self.settings.outbox_stale_sending_seconds / 3, 0.05)
        while not self.finished.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.finished.wait(), timeout=every)
                return
            if self.unrecorded:
                await self._db(renew_leases, list(self.unrecorded))


def describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


async def deliver_due(
    settings: Settings | None = None, limit: int | None = None, stop: asyncio.Event | None = None
) -> int:
    """Send what is due until nothing is (or `limit` rows, or `stop`); returns how many went."""
    return await Delivery(settings or get_settings(), stop, limit).run()
