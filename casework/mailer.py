"""The outbox sender: the only code that talks SMTP.

It claims due rows, sends each as its own message to its one recipient over a reused
connection, and records the answer. A row left in `sending` by a crash is claimed again
after a grace period and resent with the same Message-ID.
"""

from __future__ import annotations

import email.policy
import logging
import ssl
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime

import aiosmtplib
from sqlalchemy import or_, select

from casework.settings import Settings, get_settings
from db.audit import record_event
from db.models import OutboxMessage, OutboxStatus, utcnow
from db.session import transaction

log = logging.getLogger("casework.mailer")
STALE_SENDING = timedelta(minutes=5)


@dataclass(frozen=True)
class Outcome:
    """What the server said about one message."""

    sent: bool
    permanent: bool = False
    answer: str = ""
    unreachable: bool = False  # no server answer at all: wait for it, however long


# Long subjects are kept on one header line (up to RFC 5322's 998 characters): folding
# right after "Subject:" leaves some clients showing a leading space.
HEADER_POLICY = email.policy.SMTP.clone(max_line_length=998)


def build_message(row: OutboxMessage, sender: str) -> EmailMessage:
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


def claim_due(settings: Settings, limit: int) -> list[int]:
    """Mark up to `limit` due rows as sending and return their ids."""
    now = utcnow()
    with transaction() as session:
        rows = list(
            session.scalars(
                select(OutboxMessage)
                .where(
                    or_(
                        (OutboxMessage.status == OutboxStatus.PENDING)
                        & (OutboxMessage.next_attempt_at <= now),
                        (OutboxMessage.status == OutboxStatus.SENDING)
                        & (OutboxMessage.next_attempt_at <= now - STALE_SENDING),
                    )
                )
                .order_by(OutboxMessage.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
        )
        for row in rows:
            row.status = OutboxStatus.SENDING
            row.attempts += 1
            row.next_attempt_at = now
        return [row.id for row in rows]


def smtp_client(settings: Settings) -> aiosmtplib.SMTP:
    tls_context = ssl.create_default_context() if settings.smtp_security != "none" else None
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


async def send_one(smtp: aiosmtplib.SMTP, msg: EmailMessage, to: str, sender: str) -> Outcome:
    """Send over an open connection; connection-level failures propagate to the caller."""
    try:
        refused, answer = await smtp.send_message(msg, sender=sender, recipients=[to])
    except aiosmtplib.SMTPRecipientsRefused as exc:
        first = exc.recipients[0] if exc.recipients else None
        code = first.code if first else 550
        return Outcome(False, permanent=code >= 500, answer=str(first or exc))
    except aiosmtplib.SMTPResponseException as exc:
        return Outcome(False, permanent=exc.code >= 500, answer=f"{exc.code} {exc.message}")
    if refused:
        code, text = next(iter(refused.values()))
        return Outcome(False, permanent=code >= 500, answer=f"{code} {text}")
    return Outcome(True, answer=answer)


def sender_address(settings: Settings) -> str:
    """The envelope sender: the bare address inside `mail_from`."""
    value = settings.mail_from
    return value[value.find("<") + 1 : value.rfind(">")] if "<" in value else value


def backoff(settings: Settings, attempts: int) -> timedelta:
    seconds = settings.outbox_backoff_seconds * (2 ** max(attempts - 1, 0))
    return timedelta(seconds=min(seconds, settings.outbox_backoff_cap_seconds))


def record_outcome(settings: Settings, row_id: int, outcome: Outcome) -> None:
    with transaction() as session:
        row = session.get(OutboxMessage, row_id)
        if row is None:
            return
        if outcome.sent:
            row.status, row.sent_at, row.last_error = OutboxStatus.SENT, utcnow(), ""
            if row.case_id is not None and row.kind != "parent_letter":
                record_event(
                    session,
                    case_id=row.case_id,
                    kind="email.sent",
                    data={"outbox_id": row.id, "kind": row.kind},
                )
            return
        row.last_error = outcome.answer[:2000]
        gave_up = row.attempts >= settings.outbox_max_attempts and not outcome.unreachable
        if outcome.permanent or gave_up:
            row.status = OutboxStatus.FAILED
            if row.case_id is not None:
                record_event(
                    session,
                    case_id=row.case_id,
                    kind="email.failed",
                    data={"outbox_id": row.id, "kind": row.kind, "answer": row.last_error},
                )
        else:
            row.status = OutboxStatus.PENDING
            row.next_attempt_at = utcnow() + backoff(settings, row.attempts)


def load_rows(ids: list[int]) -> list[OutboxMessage]:
    with transaction() as session:
        rows = list(
            session.scalars(
                select(OutboxMessage).where(OutboxMessage.id.in_(ids)).order_by(OutboxMessage.id)
            )
        )
        session.expunge_all()
        return rows


async def deliver_due(settings: Settings | None = None, limit: int = 200) -> int:
    """Send what is due; returns how many messages were handed over successfully."""
    settings = settings or get_settings()
    ids = claim_due(settings, limit)
    if not ids:
        return 0
    rows = load_rows(ids)
    sender = sender_address(settings)
    delivered = 0
    pending = list(rows)
    try:
        async with smtp_client(settings) as smtp:
            while pending:
                row = pending[0]
                outcome = await send_one(
                    smtp, build_message(row, settings.mail_from), row.to_addr, sender
                )
                record_outcome(settings, row.id, outcome)
                pending.pop(0)
                delivered += outcome.sent
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        log.warning("SMTP unavailable (%s); %d message(s) will be retried", exc, len(pending))
        for row in pending:
            record_outcome(settings, row.id, Outcome(False, answer=str(exc), unreachable=True))
    return delivered
