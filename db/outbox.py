"""The outbox: every email is a row written in the transaction that causes it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from casework.settings import get_settings
from casework.templating import environment
from db.audit import record_event
from db.models import OutboxMessage, Person


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def render_email(template: str, **context: Any) -> RenderedEmail:
    """Render `<template>.txt.j2` (which sets `subject`) and `<template>.html.j2`."""
    env = environment()
    text_module = env.get_template(f"{template}.txt.j2").make_module(context)
    html = env.get_template(f"{template}.html.j2").render(**context)
    subject = str(getattr(text_module, "subject", "")).strip()
    if not subject:
        raise ValueError(f"template {template}.txt.j2 does not set a subject")
    return RenderedEmail(subject=subject, text=str(text_module), html=html)


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
) -> OutboxMessage:
    """Insert one outbox row unless `dedup_key` was queued before; returns the row either way."""
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
        subject=email.subject,
        text_body=email.text,
        html_body=email.html,
        message_id=new_message_id(),
        priority=priority,
    )
    session.add(row)
    session.flush()
    if audit and case_id is not None:
        recipient = address if isinstance(to, str) else f"{to.name} ({to.role.value})"
        record_event(
            session,
            case_id=case_id,
            kind="email.queued",
            actor=actor,
            data={"outbox_id": row.id, "kind": kind, "to": recipient},
        )
    return row
