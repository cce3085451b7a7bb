"""Who someone is beyond the emailed link: identity providers, authenticator secrets and the
second-factor challenges that sit between a first step and a session.

Secrets are stored sealed (core/sealed.py) and challenge tokens only as hashes.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from core.access import SIGNS_IN
from core.sealed import Unreadable, seal, unseal
from core.tokens import new_token, token_hash
from db.models import (
    IdentityProvider,
    Person,
    School,
    SecondFactorChallenge,
    TotpCredential,
    utcnow,
)

# --- identity providers ---------------------------------------------------------------


def add_provider(
    session: Session,
    *,
    organisation_id: int,
    name: str,
    issuer: str,
    client_id: str,
    client_secret: str,
    trust_mfa: bool,
    trust_email: bool = False,
) -> IdentityProvider:
    row = IdentityProvider(
        organisation_id=organisation_id,
        name=name,
        issuer=issuer.rstrip("/"),
        client_id=client_id,
        sealed_client_secret=seal(client_secret),
        trust_mfa=trust_mfa,
        trust_email=trust_email,
    )
    session.add(row)
    session.flush()
    return row


def providers(session: Session) -> list[IdentityProvider]:
    """Every configured provider, for the sign-in page's buttons."""
    return list(session.scalars(select(IdentityProvider).order_by(IdentityProvider.name)))


def get_provider(session: Session, provider_id: int) -> IdentityProvider | None:
    return session.get(IdentityProvider, provider_id)


def client_secret(provider: IdentityProvider) -> str:
    return unseal(provider.sealed_client_secret)


def member_by_email(session: Session, organisation_id: int, email: str) -> Person | None:
    """The active person who signs in with `email` at a school of the organisation."""
    schools = select(School.id).where(School.organisation_id == organisation_id)
    return session.scalars(
        select(Person)
        .where(
            func.lower(Person.email) == email.strip().lower(),
            Person.role.in_(SIGNS_IN),
            Person.active.is_(True),
            Person.school_id.in_(schools),
        )
        .order_by(Person.id)
        .limit(1)
    ).first()


# --- authenticator secrets ------------------------------------------------------------


def totp_of(session: Session, person_id: int) -> TotpCredential | None:
    return session.scalars(
        select(TotpCredential).where(TotpCredential.person_id == person_id)
    ).first()


def enrolment_secret(session: Session, person_id: int, new_secret: str) -> str:
    """The secret a person not yet enrolled should add to their app: the one shown before,
    if they have not confirmed it yet (or it cannot be read), else `new_secret`."""
    row = totp_of(session, person_id)
    if row is None:
        session.add(TotpCredential(person_id=person_id, sealed_secret=seal(new_secret)))
        session.flush()
        return new_secret
    try:
        return unseal(row.sealed_secret)
    except Unreadable:
        row.sealed_secret, row.confirmed_at, row.last_step = seal(new_secret), None, 0
        return new_secret


def forget_totp(session: Session, person_id: int) -> bool:
    """Drop a person's authenticator secret (a lost phone); they enrol again at sign-in."""
    row = totp_of(session, person_id)
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True


def totp_secret(row: TotpCredential) -> str | None:
    try:
        return unseal(row.sealed_secret)
    except Unreadable:
        return None


def spend_step(session: Session, row: TotpCredential, step: int) -> bool:
    """Accept a code of time step `step` once: never it or an earlier one again. One
    conditional update, so two requests racing with the same code cannot both pass."""
    done = session.execute(
        update(TotpCredential)
        .where(TotpCredential.id == row.id, TotpCredential.last_step < step)
        .values(last_step=step)
        .execution_options(synchronize_session=False)
    )
    if getattr(done, "rowcount", 0) != 1:
        return False
    if row.confirmed_at is None:
        row.confirmed_at = utcnow()
    return True


# --- second-factor challenges ---------------------------------------------------------


def open_challenge(
    session: Session, person: Person, how: str, next_path: str, ttl: timedelta
) -> str:
    """A challenge for `person` after their first step; returns the raw token."""
    raw = new_token()
    session.add(
        SecondFactorChallenge(
            person_id=person.id,
            token_hash=token_hash(raw),
            how=how,
            next_path=next_path,
            expires_at=utcnow() + ttl,
        )
    )
    session.flush()
    return raw


def live_challenge(
    session: Session, raw: str, now: datetime | None = None
) -> SecondFactorChallenge | None:
    row = session.scalars(
        select(SecondFactorChallenge).where(SecondFactorChallenge.token_hash == token_hash(raw))
    ).first()
    if row is None or row.used_at is not None or row.expires_at <= (now or utcnow()):
        return None
    return row


def close_challenges(session: Session, ids: Collection[int]) -> None:
    for row in session.scalars(
        select(SecondFactorChallenge).where(SecondFactorChallenge.id.in_(ids))
    ):
        row.used_at = row.used_at or utcnow()
