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
- the process dies: every message the server accepted is in its crash journal
  (mail/journal.py) before that connection sends again. Started again under the same
  `sender_name`, it marks those sent and sends the rest it held at once. Only a message
  whose answer came just before the kill, its line not yet on disk, reaches the server
  twice: at most one per connection. Rows of a sender that never comes back are claimed
  by another once their lease (`outbox_stale_sending_seconds`, renewed while a pass runs)
  has run out, and resent with the same Message-ID.

Wire bytes are built in `mail.message`, SMTP is spoken in `mail.transport`, and every
query the sender runs is in `db.outbox_claims`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import aiosmtplib

from core.settings import Settings, get_settings
from db.outbox_claims import (
    BodyCache,
    Claimed,
    claim_due,
    record_outcomes,
    recover_sender,
    release,
    renew_leases,
)
from db.session import DatabaseUnavailable
from mail.journal import Journal, JournalBusy
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

RECORD_TRIES = 5
RECORD_LINGER_SECONDS = 0.02
THOROUGH_CLAIM_SECONDS = 1.0


# --- pacing and batching ---------------------------------------------------------------


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
        """Return at this caller's start time: one interval after the previous caller's."""
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


def claim_size(settings: Settings) -> int:
    """Rows per claim; under a rate limit about ten seconds' worth, so nothing urgent
    queued meanwhile waits long behind rows already claimed."""
    size = max(1, settings.outbox_claim_batch)
    rate = settings.smtp_rate_per_minute
    return min(size, max(rate // 6, settings.smtp_connections)) if rate > 0 else size


def record_patiently(settings: Settings, results: Sequence[tuple[Claimed, Outcome]]) -> None:
    """Record, riding out a short database hiccup: an unrecorded send is a resend later."""
    for attempt in range(RECORD_TRIES):
        try:
            record_outcomes(settings, results)
            return
        except DatabaseUnavailable:
            if attempt == RECORD_TRIES - 1:
                raise
            log.warning("recording %d outcome(s) failed; retrying", len(results), exc_info=True)
            time.sleep(0.2 * 2**attempt)


# --- the crash journal -----------------------------------------------------------------


class SenderJournal:
    """This process's journal, the name its rows are claimed under, and its passes running."""

    def __init__(self, settings: Settings) -> None:
        self.name = settings.sender_name
        try:
            self.journal = Journal(settings.outbox_journal_path, settings.outbox_journal_sync)
        except JournalBusy:
            # A second sender on this machine without a name of its own: it runs under a
            # name for this process only, so its rows fall back on the lease if it dies.
            self.name = f"{settings.sender_name}-{os.getpid()}"
            log.warning(
                "sender %s is running already; this one is %s", settings.sender_name, self.name
            )
            self.journal = Journal(journal_path(settings, self.name), settings.outbox_journal_sync)
        self.started = False
        self.passes = 0  # passes of this process under this name running now
        self._counting = threading.Lock()  # each pass calls from its own database thread

    def begin(self) -> None:
        """A pass starts: first settle what a predecessor (or a failed pass) left behind.

        Only with no other pass running: their rows are in flight, not left behind.
        """
        with self._counting:
            self.passes += 1
            if self.passes == 1:
                self._settle()

    def _settle(self) -> None:
        accepted = self.journal.left_behind()
        if self.started and not accepted:
            return
        sent, again = recover_sender(self.name, accepted)
        if sent or again:
            log.warning(
                "sender %s started again: %d message(s) it had sent recorded, %d sent again now",
                self.name,
                sent,
                again,
            )
        self.journal.clear()
        self.started = True

    def end(self, all_recorded: bool) -> None:
        """A pass ends; the last one running empties the journal if nothing is unrecorded."""
        with self._counting:
            self.passes -= 1
            if not self.passes and all_recorded:
                self.journal.clear()


def journal_path(settings: Settings, name: str) -> Path:
    return settings.model_copy(update={"sender_name": name}).outbox_journal_path


_journals: dict[tuple[str, Path], SenderJournal] = {}


def sender_journal(settings: Settings) -> SenderJournal:
    """The process's journal for this sender, opened on its first pass and kept open."""
    key = (settings.sender_name, settings.outbox_journal_path)
    if key not in _journals:
        _journals[key] = SenderJournal(settings)
    return _journals[key]


# --- one pass -------------------------------------------------------------------------


class Delivery:
    """One pass: claim, send over N reused connections, record, until nothing is due."""

    def __init__(self, settings: Settings, stop: asyncio.Event | None, limit: int | None) -> None:
        self.crash = sender_journal(settings)
        if self.crash.name != settings.sender_name:
            settings = settings.model_copy(update={"sender_name": self.crash.name})
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
        """The whole pass; returns how many messages the server accepted."""
        recorded = False
        try:
            await self._db(self.crash.begin)
            sent = await self._run()
            recorded = not self.unrecorded  # the journal's every line is in the database
            return sent
        finally:
            await self._db(self.crash.end, recorded)
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
        """The next row to send, claiming more as the queue runs low; None when done."""
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
        """Claim the next batch, a thorough claim at most once a second, and queue it."""
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
        """One connection's worker: sends rows over one reused connection until none are left."""
        smtp: aiosmtplib.SMTP | None = None
        try:
            while (row := await self._next_row()) is not None:
                if smtp is None:
                    try:
                        smtp = await open_connection(self.settings)
                    except Exception as exc:  # refused, timed out, TLS or login: slot lost
                        self._hand_back(row)
                        self.connection_error = describe(exc)
                        return
                if not await self._my_turn():
                    self._hand_back(row)
                    return
                outcome = await self._send_in_order(smtp, row)
                if outcome.sent:  # on disk before this connection sends anything else
                    await self.crash.journal.accepted(row.id, row.message_id)
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

    def _hand_back(self, row: Claimed) -> None:
        """Put an untried row back at the head of the queue, for another connection."""
        self._let_go(row)
        self.rows.appendleft(row)

    def _let_go(self, row: Claimed) -> None:
        """An urgent row is answered or handed back: ordinary rows may go once none remain."""
        if row.priority > 0:
            self.urgent_in_flight -= 1
            if not self.urgent_in_flight:
                self.urgent_done.set()

    async def _send(self, smtp: aiosmtplib.SMTP, row: Claimed) -> Outcome:
        """Send one row; whatever goes wrong becomes its outcome rather than an error."""
        try:
            return await send_one(smtp, row, self.messages, self.sender)
        except CONNECTION_ERRORS as exc:
            return Outcome(False, answer=describe(exc), unreachable=True)
        except Exception as exc:  # a bug or a very odd server: count it against the row
            log.exception("sending outbox row %s failed", row.id, extra={"case_id": row.case_id})
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
        """Write the outcomes in batches until the last connection is done."""
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
        """Renew the leases of rows claimed and not yet recorded, three times per lease."""
        every = max(self.settings.outbox_stale_sending_seconds / 3, 0.05)
        while not self.finished.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.finished.wait(), timeout=every)
                return
            if self.unrecorded:
                await self._db(renew_leases, list(self.unrecorded))


def describe(exc: BaseException) -> str:
    """An error as words for `last_error` and the log, never an empty string."""
    return str(exc) or type(exc).__name__


async def deliver_due(
    settings: Settings | None = None, limit: int | None = None, stop: asyncio.Event | None = None
) -> int:
    """Send what is due until nothing is (or `limit` rows, or `stop`); returns how many went."""
    return await Delivery(settings or get_settings(), stop, limit).run()
