"""The outbox sender: the only code that talks SMTP.

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
"""

from __future__ import annotations

import asyncio
import contextlib
import email.policy
import io
import logging
import math
import re
import ssl
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.generator import BytesGenerator
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any, Protocol, TypeVar

import aiosmtplib
from sqlalchemy import Row, select, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from core.settings import Settings, get_settings
from db.audit import record_event
from db.models import OutboxBody, OutboxMessage, OutboxStatus, utcnow
from db.session import transaction

log = logging.getLogger("mail.sender")
T = TypeVar("T")

# The letter to all parents gets one audit event when it is queued, not one per parent.
LETTER_KIND = "parent_letter"

# Long subjects are kept on one header line (up to RFC 5322's 998 characters): folding
# right after "Subject:" leaves some clients showing a leading space.
HEADER_POLICY = email.policy.SMTP.clone(max_line_length=998)
SEVEN_BIT_POLICY = HEADER_POLICY.clone(cte_type="7bit")
AUTO_SUBMITTED = b"Auto-Submitted: auto-generated\r\n"
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_DOMAIN = r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
PLAIN_ADDRESS = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@{_DOMAIN}")
PLAIN_MESSAGE_ID = re.compile(rf"<{_ATOM}(?:\.{_ATOM})*@{_DOMAIN}>")
PLAIN_MAX = 900  # well inside one 998-character header line

# Errors after which the connection cannot be trusted with another message.
CONNECTION_ERRORS = (aiosmtplib.SMTPException, OSError, TimeoutError)
RECORD_TRIES = 5
RECORD_LINGER_SECONDS = 0.02
THOROUGH_CLAIM_SECONDS = 1.0


@dataclass(frozen=True)
class Outcome:
    """What the server said about one message."""

    sent: bool
    permanent: bool = False
    answer: str = ""
    unreachable: bool = False  # no server answer at all: wait for it, however long


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


class MessageRow(Protocol):
    """What a message is built from: an outbox row, claimed or not."""

    @property
    def to_addr(self) -> str: ...
    @property
    def subject(self) -> str: ...
    @property
    def text_body(self) -> str: ...
    @property
    def html_body(self) -> str: ...
    @property
    def message_id(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...


# --- building messages ---------------------------------------------------------------


def build_message(row: MessageRow, sender: str) -> EmailMessage:
    msg = EmailMessage(policy=HEADER_POLICY)
    msg["From"] = sender
    msg["To"] = row.to_addr
    msg["Subject"] = row.subject
    msg["Date"] = format_datetime(row.created_at)
    msg["Message-ID"] = row.message_id
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(row.text_body)
    msg.add_alternative(row.html_body, subtype="html")
    return msg


def flatten(msg: EmailMessage, eight_bit: bool) -> bytes:
    """The message as it goes on the wire (8bit bodies only when the server takes them)."""
    out = io.BytesIO()
    BytesGenerator(out, policy=HEADER_POLICY if eight_bit else SEVEN_BIT_POLICY).flatten(msg)
    return out.getvalue()


def header_line(name: str, value: str) -> bytes:
    """One header exactly as the email package writes it: encoded words, no CR/LF injection."""
    name, parsed = HEADER_POLICY.header_store_parse(name, value)
    return HEADER_POLICY.fold_binary(name, parsed)


def plain_or_folded(name: str, value: str, plain: re.Pattern[str]) -> bytes:
    # Parsing an address header costs far more than sending the message: skip it for the
    # plain values that make up nearly all our mail, where its output would be the same.
    if len(value) < PLAIN_MAX and plain.fullmatch(value):
        return f"{name}: {value}\r\n".encode("ascii")
    return header_line(name, value)


def mime_body(text: str, html: str, eight_bit: bool) -> bytes:
    """MIME-Version, Content-Type and the multipart/alternative body."""
    msg = EmailMessage(policy=HEADER_POLICY)
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    return flatten(msg, eight_bit)


_LINE_ENDS = re.compile(rb"\r\n|\r|\n")
_DOT_LINE_STARTS = re.compile(rb"(?m)^\.")


def data_ready(part: bytes) -> bytes:
    """Whole lines of a message as DATA carries them: CRLF endings, leading dots doubled.

    This is the transparency aiosmtplib applies to every message it sends (RFC 5321
    4.5.2); done here once per letter body rather than once per parent.
    """
    part = _LINE_ENDS.sub(b"\r\n", part)
    if not part.endswith(b"\r\n"):
        part += b"\r\n"
    return _DOT_LINE_STARTS.sub(b"..", part)


class MessageBytes:
    """Renders rows as wire bytes, building each distinct body (a letter's) only once."""

    def __init__(self, mail_from: str, keep: int = 32) -> None:
        self.mail_from = mail_from
        self._from = header_line("From", mail_from)
        self._keep = keep
        self._parts: dict[tuple[str, str, str, bool], tuple[bytes, bytes, bytes]] = {}

    def render(self, row: MessageRow, eight_bit: bool) -> bytes:
        """The message as RFC 5322 text."""
        subject, body, _ = self._shared_parts(row, eight_bit)
        return self._headers(row, subject) + body

    def for_data(self, row: MessageRow, eight_bit: bool) -> bytes:
        """The message as written after DATA's 354, ending with the lone-dot line."""
        subject, _, stuffed_body = self._shared_parts(row, eight_bit)
        return data_ready(self._headers(row, subject)) + stuffed_body + b".\r\n"

    def _headers(self, row: MessageRow, subject: bytes) -> bytes:
        return b"".join(
            (
                self._from,
                plain_or_folded("To", row.to_addr, PLAIN_ADDRESS),
                subject,
                f"Date: {format_datetime(row.created_at)}\r\n".encode("ascii"),
                plain_or_folded("Message-ID", row.message_id, PLAIN_MESSAGE_ID),
                AUTO_SUBMITTED,
            )
        )

    def _shared_parts(self, row: MessageRow, eight_bit: bool) -> tuple[bytes, bytes, bytes]:
        key = (row.subject, row.text_body, row.html_body, eight_bit)
        parts = self._parts.get(key)
        if parts is None:
            if len(self._parts) >= self._keep:
                self._parts.clear()
            body = mime_body(row.text_body, row.html_body, eight_bit)
            parts = (header_line("Subject", row.subject), body, data_ready(body))
            self._parts[key] = parts
        return parts


# --- talking to the server ------------------------------------------------------------


def smtp_client(settings: Settings) -> aiosmtplib.SMTP:
    tls_context = None
    if settings.smtp_security != "none":
        tls_context = ssl.create_default_context()
        if settings.smtp_ca_file:
            tls_context.load_verify_locations(cafile=settings.smtp_ca_file)
    return aiosmtplib.SMTP(
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        timeout=settings.smtp_timeout_seconds,
        use_tls=settings.smtp_security == "tls",
        start_tls=settings.smtp_security == "starttls",
        tls_context=tls_context,
        username=settings.smtp_username or None,
        password=settings.smtp_password.get_secret_value() or None,
    )


async def open_connection(settings: Settings) -> aiosmtplib.SMTP:
    """Connect (TLS and login as configured) and greet, so the server's extensions are known."""
    smtp = smtp_client(settings)
    await smtp.connect()
    try:
        if smtp.is_ehlo_or_helo_needed:
            try:
                await smtp.ehlo()
            except aiosmtplib.SMTPHeloError:
                await smtp.helo()
    except BaseException:
        smtp.close()
        raise
    return smtp


async def close_quietly(smtp: aiosmtplib.SMTP) -> None:
    if smtp.is_connected:
        with contextlib.suppress(Exception):
            await smtp.quit(timeout=2)
    smtp.close()


def answer_of(code: int, text: str) -> Outcome:
    if code == 421:  # the server is closing the connection: an outage, not an answer
        return Outcome(False, answer=f"{code} {text}", unreachable=True)
    return Outcome(False, permanent=code >= 500, answer=f"{code} {text}")


async def send_one(
    smtp: aiosmtplib.SMTP, row: MessageRow, messages: MessageBytes, sender: str
) -> Outcome:
    """Send over an open connection; errors that leave no server answer propagate."""
    try:
        if row.to_addr.isascii() and sender.isascii():
            eight_bit = smtp.supports_extension("8bitmime")
            answer = await transact(
                smtp, sender, row.to_addr, messages.for_data(row, eight_bit), eight_bit
            )
            return Outcome(True, answer=answer)
        # An internationalised address: let aiosmtplib negotiate SMTPUTF8.
        refused, answer = await smtp.send_message(
            build_message(row, messages.mail_from), sender=sender, recipients=[row.to_addr]
        )
    except aiosmtplib.SMTPRecipientsRefused as exc:
        first = exc.recipients[0] if exc.recipients else None
        return answer_of(first.code, first.message) if first else answer_of(550, str(exc))
    except aiosmtplib.SMTPResponseException as exc:
        return answer_of(exc.code, exc.message)
    except (aiosmtplib.SMTPNotSupported, ValueError) as exc:
        # A header or address this server can never take: retrying cannot help.
        return Outcome(False, permanent=True, answer=f"not sendable: {exc}")
    if refused:  # aiosmtplib returns partly refused recipients rather than raising
        code, text = next(iter(refused.values()))
        return answer_of(code, text)
    return Outcome(True, answer=answer)


async def transact(
    smtp: aiosmtplib.SMTP, sender: str, to: str, data: bytes, eight_bit: bool
) -> str:
    """One mail transaction to one recipient (MAIL, RCPT, DATA); returns the server's answer.

    `data` is the message ready for DATA (see `MessageBytes.for_data`). This is
    aiosmtplib's `sendmail` without the work it repeats for every message: it parses each
    address up to four times, re-scans the whole message to size it and rewrites it for
    transparency. At thousands of messages a second that was over a third of the sender's
    time. A plain address is checked by one pattern instead of the parser; any other goes
    through aiosmtplib.
    """
    options = [f"SIZE={len(data)}"] if smtp.supports_extension("size") else []
    if eight_bit:
        options.append("BODY=8BITMIME")
    from_arg, to_arg = envelope_address(sender), envelope_address(to)
    try:
        if from_arg is None or to_arg is None:
            await smtp.mail(sender, options=options)
            await smtp.rcpt(to)
        else:
            extra = [option.encode("ascii") for option in options]
            answer = await smtp.execute_command(b"MAIL", b"FROM:" + from_arg, *extra)
            if answer.code != 250:
                raise aiosmtplib.SMTPSenderRefused(answer.code, answer.message, sender)
            answer = await smtp.execute_command(b"RCPT", b"TO:" + to_arg)
            if answer.code not in (250, 251):
                raise aiosmtplib.SMTPRecipientRefused(answer.code, answer.message, to)
        return await send_data(smtp, data)
    except aiosmtplib.SMTPResponseException:
        # Leave the connection ready for the next message, as sendmail does.
        with contextlib.suppress(aiosmtplib.SMTPResponseException, ConnectionError):
            await smtp.rset()
        raise


async def send_data(smtp: aiosmtplib.SMTP, data: bytes) -> str:
    """DATA, then the prepared message; returns the server's answer to it."""
    start = await smtp.execute_command(b"DATA")
    if start.code != 354:
        raise aiosmtplib.SMTPDataError(start.code, start.message)
    protocol = smtp.protocol
    if protocol is None:
        raise aiosmtplib.SMTPServerDisconnected("Connection lost")
    # Written and awaited one after the other, as aiosmtplib's own DATA does: the answer
    # cannot arrive before `read_response` is waiting for it, as nothing yields in between.
    try:
        protocol.write(data)
        answer = await protocol.read_response(timeout=smtp.timeout)
    except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError):
        smtp.close()  # out of step with the server: never reuse this connection
        raise
    if answer.code != 250:
        raise aiosmtplib.SMTPDataError(answer.code, answer.message)
    return answer.message


def envelope_address(address: str) -> bytes | None:
    """`<address>` for a plain address, as aiosmtplib would quote it; None for any other."""
    if len(address) < PLAIN_MAX and PLAIN_ADDRESS.fullmatch(address):
        return b"<" + address.encode("ascii") + b">"
    return None


def sender_address(settings: Settings) -> str:
    """The envelope sender: the bare address inside `mail_from`."""
    value = settings.mail_from
    return value[value.find("<") + 1 : value.rfind(">")] if "<" in value else value


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
