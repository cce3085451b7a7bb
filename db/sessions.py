"""Signing in: one-time emailed sign-in tokens and the browser sessions they start.

Only hashes of tokens are stored: a leaked table gives no working link or cookie. A session
ends at its absolute expiry, after `session_idle_minutes` without a request, at sign-out,
or when its person is disabled (`end_sessions_of`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.enums import AuditKind, Role
from core.settings import get_settings
from core.tokens import new_token, token_hash
from db.audit import record_event
from db.models import Person, SignInToken, UserSession, utcnow


def add_signin_token(session: Session, person: Person, ttl: timedelta) -> tuple[SignInToken, str]:
    """A new one-time sign-in token for `person`; returns the row and the raw token."""
    raw = new_token()
    row = SignInToken(person_id=person.id, token_hash=token_hash(raw), expires_at=utcnow() + ttl)
    session.add(row)
    session.flush()
    return row, raw


def live_signin_token(
    session: Session, raw: str, now: datetime | None = None
) -> SignInToken | None:
    """The unused, unexpired sign-in token for `raw`, if there is one."""
    row = session.scalars(
        select(SignInToken).where(SignInToken.token_hash == token_hash(raw))
    ).first()
    if row is None or row.used_at is not None or row.expires_at <= (now or utcnow()):
        return None
    return row


def use_signin_token(session: Session, raw: str) -> Person | None:
    """Spend a live sign-in token; returns its person, or None if the token is not live."""
    now = utcnow()
    row = live_signin_token(session, raw, now)
    if row is None:
        return None
    row.used_at = now
    return session.get(Person, row.person_id)


def start_session(session: Session, person: Person, ttl: timedelta, **seen: Any) -> str:
    """Open a browser session for `person` and record the sign-in; returns the cookie value."""
    raw = new_token()
    now = utcnow()
    session.add(
        UserSession(
            person_id=person.id,
            token_hash=token_hash(raw),
            expires_at=now + ttl,
            last_seen_at=now,
        )
    )
    record_event(
        session,
        case_id=None,
        kind=AuditKind.PERSON_SIGNED_IN,
        actor=person,
        data=seen,
        school_id=person.school_id,
    )
    return raw


def end_session(session: Session, raw: str) -> None:
    """Revoke the session behind a cookie value (signing out)."""
    row = session.scalars(
        select(UserSession).where(UserSession.token_hash == token_hash(raw))
    ).first()
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()


def end_sessions_of(session: Session, person_id: int) -> int:
    """Revoke every live session of a person (when they are disabled); how many ended."""
    now = utcnow()
    rows = session.scalars(
        select(UserSession).where(
            UserSession.person_id == person_id,
            UserSession.revoked_at.is_(None),
            UserSession.expires_at > now,
        )
    ).all()
    for row in rows:
        row.revoked_at = now
    return len(rows)


@dataclass(frozen=True)
class LiveSession:
    """What one request needs of its browser session, read with one lookup."""

    person: Person
    school_id: int | None  # the school chosen in this session, if any
    stale: bool  # its last-seen time is old enough to write again


def live_session(session: Session, raw: str) -> LiveSession | None:
    """The live session behind a cookie value, for an active person who signs in."""
    row = _live_row(session, raw)
    if row is None:
        return None
    person = session.get(Person, row.person_id)
    if person is None or not person.active or person.role == Role.PARENT:
        return None
    stale = (row.last_seen_at or row.created_at) + SEEN_EVERY <= utcnow()
    return LiveSession(person, row.school_id, stale)


def _live_row(session: Session, raw: str) -> UserSession | None:
    row = session.scalars(
        select(UserSession).where(UserSession.token_hash == token_hash(raw))
    ).first()
    now = utcnow()
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    idle = timedelta(minutes=get_settings().session_idle_minutes)
    if row.last_seen_at is not None and row.last_seen_at + idle <= now:
        return None
    return row


# How stale the stored last-seen time may get before a request writes it again: one write a
# minute per active session, not one per request.
SEEN_EVERY = timedelta(minutes=1)


def touch(session: Session, raw: str) -> None:
    """Record a request on this session now (it stays live while used)."""
    row = _live_row(session, raw)
    if row is not None:
        row.last_seen_at = utcnow()


def choose_school(session: Session, raw: str, school_id: int) -> None:
    """Remember, for this browser session only, which school the person is looking at."""
    row = _live_row(session, raw)
    if row is not None:
        row.school_id = school_id
