"""What every way of signing in ends with: a second factor for elevated roles, then a
fresh session.

The emailed link and an identity provider are first steps. A person whose role is in
core/access.ELEVATED then needs a code from their authenticator app (api/routes/mfa.py)
unless their provider vouches for MFA; only after that does a session exist. Each sign-in
issues a new session cookie and a new CSRF cookie and revokes any session the browser held.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import Request
from fastapi.responses import RedirectResponse, Response

from api.security import client_ip, cookie_name, drop_cookie, session_cookie, set_cookie
from core.access import ELEVATED
from core.settings import get_settings
from core.tokens import new_token
from db import sessions
from db.identity import open_challenge
from db.models import Person
from db.session import transaction

CHALLENGE = "cw_mfa"


def safe_next(value: str | None) -> str:
    """Only same-site paths: never redirect a signed-in person off to another site."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/"


def after_first_step(
    request: Request, person: Person, how: str, next_path: str, mfa_done: bool = False
) -> Response:
    """Start the session, or ask for the second factor first if the role needs one."""
    if person.role not in ELEVATED or mfa_done:
        return start_session(request, person, next_path, how)
    settings = get_settings()
    with transaction() as session:
        raw = open_challenge(
            session,
            person,
            how,
            safe_next(next_path),
            timedelta(minutes=settings.mfa_challenge_minutes),
        )
    response = RedirectResponse("/second-factor", status_code=303)
    set_cookie(response, CHALLENGE, raw, max_age=settings.mfa_challenge_minutes * 60)
    return response


def start_session(request: Request, person: Person, next_path: str, how: str) -> Response:
    """A new session (the old one, if any, revoked) and the cookies that go with it."""
    settings = get_settings()
    with transaction() as session:
        old = session_cookie(request)
        if old:
            sessions.end_session(session, old)
        raw = sessions.start_session(
            session,
            person,
            timedelta(hours=settings.session_ttl_hours),
            ip=client_ip(request),
            user_agent=request.headers.get("user-agent", "")[:200],
            how=how,
        )
    response = RedirectResponse(safe_next(next_path), status_code=303)
    set_cookie(response, "cw_session", raw, max_age=settings.session_ttl_hours * 3600)
    # A new CSRF secret too: nothing a page saw before sign-in carries over.
    set_cookie(response, "cw_csrf", new_token(), strict=True)
    if request.cookies.get(cookie_name(CHALLENGE)):
        drop_cookie(response, CHALLENGE)
    return response
