"""Sessions, CSRF, upload limits and security headers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

from fastapi import Request, Response
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import AppError
from core.settings import get_settings
from core.tokens import new_token, same, sign, token_hash
from db.audit import record_event
from db.models import Person, Role, UserSession, utcnow
from db.people import first_school
from db.session import reading, transaction

SESSION_COOKIE = "cw_session"
CSRF_COOKIE = "cw_csrf"


def load_user(raw_session: str | None) -> tuple[Person | None, str]:
    """The signed-in person for a session cookie, and the school's name for the layout."""
    with reading() as session:
        school = first_school(session)
        school_name = school.name if school else "Casework"
        if not raw_session:
            return None, school_name
        row = session.scalars(
            select(UserSession).where(UserSession.token_hash == token_hash(raw_session))
        ).first()
        if row is None or row.revoked_at is not None or row.expires_at <= utcnow():
            return None, school_name
        person = session.get(Person, row.person_id)
        if person is None or not person.active or person.role == Role.PARENT:
            return None, school_name
        session.expunge(person)
        return person, school_name


async def session_middleware(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    """Attach the user and a CSRF token to every request; set the CSRF cookie if new."""
    settings = get_settings()
    csrf_raw = request.cookies.get(CSRF_COOKIE) or ""
    new_csrf = not csrf_raw
    if new_csrf:
        csrf_raw = new_token()
    request.state.csrf_raw = csrf_raw
    request.state.csrf_token = sign(f"csrf:{csrf_raw}")
    if request.url.path.startswith("/static/"):
        request.state.user, request.state.school_name = None, "Casework"
    else:
        user, school_name = await run_in_threadpool(load_user, request.cookies.get(SESSION_COOKIE))
        request.state.user, request.state.school_name = user, school_name
    response = await call_next(request)
    if new_csrf:
        response.set_cookie(
            CSRF_COOKIE,
            csrf_raw,
            httponly=True,
            samesite="strict",
            secure=settings.secure_cookies,
            path="/",
        )
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def check_csrf(request: Request, form: FormData) -> None:
    """Refuse a form POST whose hidden token does not match this browser's cookie."""
    sent = str(form.get("csrf_token") or "")
    cookie = request.cookies.get(CSRF_COOKIE) or ""
    if not cookie or not sent or not same(sent, sign(f"csrf:{cookie}")):
        raise AppError(
            403,
            "This form has expired or came from another site. Go back, "
            "reload the page and try again.",
            "The form could not be accepted",
        )


def current_user(request: Request) -> Person | None:
    return getattr(request.state, "user", None)


def require_user(request: Request) -> Person:
    """The signed-in person; otherwise a 401 that the error handler turns into sign-in."""
    user = current_user(request)
    if user is None:
        raise AppError(401, "Sign in to see this page.")
    return user


SCHOOL_MANAGERS = (Role.HEADTEACHER, Role.DSL)


def require_manager(request: Request, what: str) -> Person:
    """The signed-in headteacher or DSL; anyone else is told who can `what`."""
    user = require_user(request)
    if user.role not in SCHOOL_MANAGERS:
        raise AppError(403, f"Only the headteacher or the designated safeguarding lead can {what}.")
    return user


def start_session(person: Person, ip: str, user_agent: str) -> str:
    """Create a session for `person`; returns the cookie value."""
    raw = new_token()
    ttl = timedelta(hours=get_settings().session_ttl_hours)
    with transaction() as session:
        session.add(
            UserSession(person_id=person.id, token_hash=token_hash(raw), expires_at=utcnow() + ttl)
        )
        record_event(
            session,
            case_id=None,
            kind="person.signed_in",
            actor=person,
            data={"ip": ip, "user_agent": user_agent[:200]},
        )
    return raw


def end_session(raw: str | None) -> None:
    if not raw:
        return
    with transaction() as session:
        row = session.scalars(
            select(UserSession).where(UserSession.token_hash == token_hash(raw))
        ).first()
        if row is not None and row.revoked_at is None:
            row.revoked_at = utcnow()


def client_ip(request: Request) -> str:
    return request.client.host if request.client else ""


class BodyLimit:
    """Refuse request bodies over the limit with 413, before reading them whole."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = get_settings().max_request_bytes
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await too_large(send, limit)
            return
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise _TooLarge()
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, tracking_send)
        except _TooLarge:
            if not started:
                await too_large(send, limit)


class _TooLarge(Exception):
    pass


async def too_large(send: Send, limit: int) -> None:
    body = (
        "<!doctype html><html lang='en-GB'><head><meta charset='utf-8'><title>Upload too large"
        "</title><link rel='stylesheet' href='/static/casework.css'></head><body><main>"
        "<h1>The upload is too large</h1>"
        f"<p>Everything sent together must be under {limit // (1024 * 1024)} MB. Nothing was "
        "saved. Go back, attach fewer or smaller files (each file up to "
        f"{get_settings().max_file_bytes // (1024 * 1024)} MB) and send the report again.</p>"
        "</main></body></html>"
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"text/html; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
