"""The outbox: every email is a row written in the transaction that causes it."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import TypeVar

from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from core.enums import AuditKind
from core.settings import get_settings
from core.templating import RenderedEmail
from db.audit import record_event
from db.models import OutboxBody, OutboxMessage, OutboxStatus, Person, utcnow
from db.wake import Work, wake_worker

T = TypeVar("T")
# Rows per statement: well inside SQLite's limit on bound parameters.
CHUNK = 1000


def dedup_key(kind: str, *parts: object) -> str:
    """The key that makes an email go once: its kind and what makes it unique."""
    return ":".join([str(kind), *(str(part) for part in parts)])


def new_message_id() -> str:
    domain = get_settings().mail_from.rsplit("@", 1)[-1].strip(" >") or "casework.local"
    return f"<{uuid.uuid4().hex}@{domain}>"


def queue_email(
    session: Session,
    *,
    dedup_key: str,
    to: Person | str,
    email: RenderedEmail,
    kind: str,
    case_id: int | None = None,
    actor: Person | None = None,
    audit: bool = True,
    priority: int = 0,
    reply_to: str = "",
) -> OutboxMessage:
    """Insert one outbox row unless `dedup_key` was queued before; returns the row either way.

    `reply_to` is where a reply should go, when it is not Casework's own From address.
    """
    existing = session.scalars(
        select(OutboxMessage).where(OutboxMessage.dedup_key == dedup_key)
    ).first()
    if existing is not None:
        return existing
    address = to if isinstance(to, str) else (to.email or "")
    if not address:
        raise ValueError(f"cannot email {getattr(to, 'name', to)}: no address on record")
    row = OutboxMessage(
        dedup_key=dedup_key,
        case_id=case_id,
        kind=kind,
        to_addr=address,
        reply_to=reply_to,
        body_id=store_body(session, email),
        message_id=new_message_id(),
        priority=priority,
    )
    session.add(row)
    session.flush()
    wake_worker(session, Work.MAIL)  # the sender takes it the moment it commits
    if audit and case_id is not None:
        recipient = address if isinstance(to, str) else f"{to.name} ({to.role.value})"
        record_event(
            session,
            case_id=case_id,
            kind=AuditKind.EMAIL_QUEUED,
            actor=actor,
            data={"outbox_id": row.id, "kind": kind, "to": recipient},
        )
    return row


def is_queued(session: Session, key: str) -> bool:
    """Whether an email with this dedup key was ever queued (whatever became of it)."""
    found = session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedup_key == key))
    return found is not None


def queued_since(session: Session, key_prefix: str, since: datetime) -> int:
    """How many emails whose dedup key starts with `key_prefix` were queued after `since`."""
    return int(
        session.scalar(
            select(func.count(OutboxMessage.id)).where(
                OutboxMessage.dedup_key.startswith(key_prefix, autoescape=True),
                OutboxMessage.created_at > since,
            )
        )
        or 0
    )


def store_body(session: Session, email: RenderedEmail) -> int:
    """The id of the body row holding `email`, inserted unless an identical one exists."""
    known: dict[str, int] = session.info.setdefault("outbox_bodies", {})
    digest = email.digest
    if digest in known:
        return known[digest]
    values = {
        "digest": digest,
        "subject": email.subject,
        "text_body": email.text,
        "html_body": email.html,
    }
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    # Two transactions may queue the same text at once: the second one's insert waits for
    # the first and then does nothing, rather than failing on the unique digest.
    session.execute(
        dialect.insert(OutboxBody)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["digest"])
    )
    body_id = session.scalars(select(OutboxBody.id).where(OutboxBody.digest == digest)).one()
    known[digest] = body_id
    return body_id


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def queue_many(
    session: Session,
    *,
    email: RenderedEmail,
    kind: str,
    case_id: int | None,
    recipients: Sequence[tuple[str, str]],
) -> int:
    """One message of `email` to each (dedup key, address) not queued before; returns how many.

    The letter to every parent: one body row, and the messages inserted in batches rather
    than one statement and one round trip each (10,000 rows took seven seconds that way).
    """
    body_id = store_body(session, email)
    queued: set[str] = set()
    for part in chunks([key for key, _ in recipients]):
        queued.update(
            session.scalars(
                select(OutboxMessage.dedup_key).where(OutboxMessage.dedup_key.in_(part))
            )
        )
    now = utcnow()
    rows = [
        {
            "dedup_key": key,
            "case_id": case_id,
            "kind": kind,
            "to_addr": address,
            "body_id": body_id,
            "message_id": new_message_id(),
            "created_at": now,
            "next_attempt_at": now,
        }
        for key, address in recipients
        if key not in queued and address
    ]
    for batch in chunks(rows):
        session.execute(insert(OutboxMessage), list(batch))
    return len(rows)


def delivery_counts(session: Session, case_id: int) -> dict[str, int]:
    """How many of the case's emails are in each outbox status."""
    rows = session.execute(
        select(OutboxMessage.status, func.count())
        .where(OutboxMessage.case_id == case_id)
        .group_by(OutboxMessage.status)
    ).all()
    counts = {status.value: 0 for status in OutboxStatus}
    counts.update({status.value: n for status, n in rows})
    return counts


def undelivered(session: Session, case_id: int, limit: int) -> list[OutboxMessage]:
    """The case's emails the server refused, or is still deferring with an answer."""
    troubled = (OutboxMessage.status == OutboxStatus.FAILED) | (
        (OutboxMessage.status == OutboxStatus.PENDING) & (OutboxMessage.last_error != "")
    )
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.case_id == case_id, troubled)
            .order_by(OutboxMessage.id)
            .limit(limit)
        )
    )


def cancel_unsent(session: Session, case_id: int) -> int:
    """Stop the case's emails that have not gone out yet; returns how many."""
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.case_id == case_id, OutboxMessage.status == OutboxStatus.PENDING)
        .values(status=OutboxStatus.CANCELLED)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def erase_case_mail(session: Session, case_id: int) -> int:
    """Disposal: the case's emails lose their addresses and their words; one still waiting
    is cancelled. A body another case or email shares is left alone. Returns how many."""
    rows = list(session.scalars(select(OutboxMessage).where(OutboxMessage.case_id == case_id)))
    body_ids = {row.body_id for row in rows}
    for row in rows:
        if row.status == OutboxStatus.PENDING:
            row.status = OutboxStatus.CANCELLED
        row.to_addr, row.reply_to, row.last_error = "", "", ""
    shared = set(
        session.scalars(
            select(OutboxMessage.body_id).where(
                OutboxMessage.body_id.in_(body_ids),
                OutboxMessage.case_id.is_distinct_from(case_id),
            )
        )
    )
    for body in session.scalars(select(OutboxBody).where(OutboxBody.id.in_(body_ids - shared))):
        body.subject, body.text_body, body.html_body = "", "", ""
        # A digest no email can have, so nothing queued later is matched to an empty body.
        body.digest = hashlib.sha256(f"disposed:{body.id}".encode()).hexdigest()
    session.flush()
    return len(rows)
