"""The sender's side of the outbox: claiming due rows and writing back what the server said.

A claim marks rows `sending` and counts the attempt. From then on a row's
`next_attempt_at` is its sender's lease: renewed while the sender works on it, and once it
has run out the row is taken for abandoned and claimed again. Queueing is in `db.outbox`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import ColumnElement, Row, select, update
from sqlalchemy.orm import Session

from core.enums import AuditKind, EmailKind
from core.settings import Settings
from db.audit import record_event
from db.models import OutboxBody, OutboxMessage, OutboxStatus, utcnow
from db.session import reading, transaction

CLAIM_COLUMNS = (
    OutboxMessage.priority,
    OutboxMessage.id,
    OutboxMessage.kind,
    OutboxMessage.case_id,
    OutboxMessage.to_addr,
    OutboxMessage.reply_to,
    OutboxMessage.body_id,
    OutboxMessage.message_id,
    OutboxMessage.created_at,
    OutboxMessage.attempts,
)

# What a claim reads of a row, typed column by column as CLAIM_COLUMNS lists them.
ClaimRow = Row[int, int, str, int | None, str, str, int, str, datetime, int]
Body = tuple[str, str, str]  # subject, text, html
# Which rows to claim, and in what order.
DueQuery = tuple[ColumnElement[bool], tuple[Any, ...]]


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
    reply_to: str = ""


class SendResult(Protocol):
    """What the server said about one message, as the sender reports it."""

    @property
    def sent(self) -> bool: ...
    @property
    def permanent(self) -> bool: ...
    @property
    def answer(self) -> str: ...
    @property
    def unreachable(self) -> bool: ...  # no server answer at all


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


def backoff(settings: Settings, attempts: int) -> timedelta:
    """The wait before retrying a row after its `attempts`-th temporary refusal."""
    seconds = settings.outbox_backoff_seconds * (2 ** max(attempts - 1, 0))
    return timedelta(seconds=min(seconds, settings.outbox_backoff_cap_seconds))


# --- claiming ---------------------------------------------------------------------------


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
    with transaction() as session:
        found = lock_due(session, due_queries(settings, now, thorough), limit)
        texts = bodies_of(session, {r.body_id for r in found}, bodies)
        if found:
            mark_sending(session, [r.id for r in found], now, settings.sender_name)
    return [claimed(r, texts[r.body_id]) for r in found]


def due_queries(settings: Settings, now: datetime, thorough: bool) -> list[DueQuery]:
    """What a claim takes, first things first."""
    lease_ended = now - timedelta(seconds=settings.outbox_stale_sending_seconds)
    due = (OutboxMessage.status == OutboxStatus.PENDING) & (OutboxMessage.next_attempt_at <= now)
    oldest_first = (OutboxMessage.id,)
    if not thorough:
        return [(due, oldest_first)]
    is_letter = OutboxMessage.kind == EmailKind.PARENT_LETTER
    abandoned = (OutboxMessage.status == OutboxStatus.SENDING) & (
        OutboxMessage.next_attempt_at <= lease_ended
    )
    return [
        (abandoned, oldest_first),
        (due & ~is_letter, (OutboxMessage.priority.desc(), OutboxMessage.id)),
        (due & is_letter, oldest_first),
    ]


def mail_due() -> bool:
    """Whether any row waits to be sent now: a read that takes no lock, for an idle sender
    to ask often instead of claiming (which on SQLite takes the write lock)."""
    with reading() as session:
        found = session.execute(
            select(OutboxMessage.id)
            .where(OutboxMessage.status == OutboxStatus.PENDING)
            .where(OutboxMessage.next_attempt_at <= utcnow())
            .limit(1)
        ).first()
    return found is not None


def lock_due(session: Session, queries: list[DueQuery], limit: int) -> list[ClaimRow]:
    """Up to `limit` rows, query by query, skipping those another sender has locked."""
    # Simple queries rather than one with OR and a computed ORDER BY: each walks the status
    # index in id order and stops at `limit`, where one query sorted every due row.
    found: list[ClaimRow] = []
    for condition, order in queries:
        if len(found) < limit:
            found += session.execute(
                select(*CLAIM_COLUMNS)
                .where(condition)
                .order_by(*order)
                .limit(limit - len(found))
                .with_for_update(skip_locked=True)
            ).all()
    return found


def bodies_of(session: Session, ids: set[int], cache: BodyCache | None) -> dict[int, Body]:
    """The bodies with these ids, read from the database only where `cache` lacks them."""
    have = cache.known(ids) if cache is not None else {}
    fresh = read_bodies(session, ids - have.keys())
    if cache is not None:
        cache.add(fresh)
    return have | fresh


def read_bodies(session: Session, ids: set[int]) -> dict[int, Body]:
    if not ids:
        return {}
    found = session.execute(
        select(OutboxBody.id, OutboxBody.subject, OutboxBody.text_body, OutboxBody.html_body).where(
            OutboxBody.id.in_(ids)
        )
    ).all()
    return {row.id: (row.subject, row.text_body, row.html_body) for row in found}


def mark_sending(session: Session, ids: list[int], now: datetime, sender: str) -> None:
    """Take the rows for `sender`, counting the attempt; their lease starts now."""
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(ids))
        .values(
            status=OutboxStatus.SENDING,
            attempts=OutboxMessage.attempts + 1,
            next_attempt_at=now,
            claimed_by=sender,
        )
        .execution_options(synchronize_session=False)
    )


def claimed(r: ClaimRow, body: Body) -> Claimed:
    """A claimed row, as it is once `mark_sending` has counted its attempt."""
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
        reply_to=r.reply_to,
    )


# --- while sending ----------------------------------------------------------------------


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
        give_back(session, ids)


def give_back(session: Session, ids: Sequence[int]) -> None:
    update_sending(
        session,
        ids,
        status=OutboxStatus.PENDING,
        next_attempt_at=utcnow(),
        attempts=OutboxMessage.attempts - 1,
    )


def recover_sender(sender: str, accepted: set[int]) -> tuple[int, int]:
    """After `sender` died: its rows the server `accepted` (from its journal) are sent; the
    rest it held are due again now, their attempt not counted. Returns (sent, due again).

    Only for a sender starting under the dead one's name, before it claims anything.
    """
    now = utcnow()
    with transaction() as session:
        held = session.scalars(
            select(OutboxMessage.id).where(
                OutboxMessage.status == OutboxStatus.SENDING, OutboxMessage.claimed_by == sender
            )
        ).all()
        sent = [i for i in held if i in accepted]
        if sent:
            rows = session.execute(
                select(OutboxMessage.id, OutboxMessage.case_id, OutboxMessage.kind).where(
                    OutboxMessage.id.in_(sent)
                )
            ).all()
            mark_sent(session, rows, now)
        again = [i for i in held if i not in accepted]
        if again:
            give_back(session, again)
    return len(sent), len(again)


# --- recording what the server said -----------------------------------------------------


def record_outcomes(settings: Settings, results: Sequence[tuple[Claimed, SendResult]]) -> None:
    """Write what the server said about each row, in one transaction."""
    now = utcnow()
    with transaction() as session:
        mark_sent(session, [row for row, result in results if result.sent], now)
        for row, result in results:
            if not result.sent:
                record_failure(session, settings, row, result, now)


class SentRow(Protocol):
    """What marking a row sent needs to know of it."""

    @property
    def id(self) -> int: ...
    @property
    def case_id(self) -> int | None: ...
    @property
    def kind(self) -> str: ...


def mark_sent(session: Session, rows: Sequence[SentRow], now: datetime) -> None:
    """Mark the rows sent, with an audit event on each one's case."""
    if rows:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_([row.id for row in rows]))
            .values(status=OutboxStatus.SENT, sent_at=now, last_error="")
            .execution_options(synchronize_session=False)
        )
    for row in rows:
        # The letter to all parents gets one audit event when it is queued, not one per parent.
        if row.case_id is not None and row.kind != EmailKind.PARENT_LETTER:
            record_event(
                session,
                case_id=row.case_id,
                kind=AuditKind.EMAIL_SENT,
                data={"outbox_id": row.id, "kind": row.kind},
            )


def record_failure(
    session: Session, settings: Settings, row: Claimed, result: SendResult, now: datetime
) -> None:
    """A refused or unanswered row: due again after its backoff, or failed for good."""
    answer = result.answer[:2000]
    # An outage is no fault of the message: it waits however many attempts it takes.
    gave_up = row.attempts >= settings.outbox_max_attempts and not result.unreachable
    if not (result.permanent or gave_up):
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
            kind=AuditKind.EMAIL_FAILED,
            data={"outbox_id": row.id, "kind": row.kind, "answer": answer},
        )
