"""Sessions, CSRF, upload limits and security headers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import AppError
from core.access import Actor
from core.settings import get_settings
from core.tokens import new_token, same, sign
from db.models import Person
from db.people import actor_of
from db.schools import schools_in
from db.session import reading, transaction
from db.sessions import needs_touch, session_school, signed_in_person, touch


def cookie_name(base: str) -> str:
    """`cw_session` in dev mode over http; `__Host-cw_session` (Secure, host-only) otherwise."""
    return get_settings().cookie_prefix + base


def session_cookie(request: Request) -> str:
    """The raw session token this browser sent, if any."""
    return request.cookies.get(cookie_name("cw_session")) or ""


def set_cookie(
    response: Response, base: str, value: str, max_age: int | None = None, strict: bool = False
) -> None:
    """Every cookie Casework sets: HttpOnly, path /, Secure (and `__Host-`) outside dev mode."""
    response.set_cookie(
        cookie_name(base),
        value,
        httponly=True,
        samesite="strict" if strict else "lax",
        secure=get_settings().secure_cookies,
        path="/",
        max_age=max_age,
    )


def drop_cookie(response: Response, base: str) -> None:
    settings = get_settings()
    response.delete_cookie(
        cookie_name(base), path="/", secure=settings.secure_cookies, httponly=True
    )


@dataclass(frozen=True)
class Visitor:
    """The signed-in person, what the policy knows of them, and the school they are looking at."""

    person: Person
    actor: Actor
    school_id: int
    school_name: str
    schools: list[tuple[int, str]]  # every school they serve, by name


def load_user(raw_session: str | None) -> Visitor | None:
    """The signed-in person behind a session cookie, with their schools."""
    if not raw_session:
        return None
    with reading() as session:
        person = signed_in_person(session, raw_session)
        if person is None:
            return None
        actor = actor_of(session, person)
        schools = [(s.id, s.name) for s in schools_in(session, actor.schools)]
        chosen = session_school(session, raw_session)
        current = chosen if chosen in actor.schools else person.school_id
        stale = needs_touch(session, raw_session)
        session.expunge(person)
    if stale:
        with transaction() as session:
            touch(session, raw_session)
    return Visitor(
        person=person,
        actor=actor,
        school_id=current,
        school_name=dict(schools).get(current, "Casework"),
        schools=schools,
    )


async def session_middleware(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    """Attach the user and a CSRF token to every request; set the CSRF cookie if new."""
    csrf_raw = request.cookies.get(cookie_name("cw_csrf")) or ""
    new_csrf = not csrf_raw
    if new_csrf:
        csrf_raw = new_token()
    request.state.csrf_raw = csrf_raw
    request.state.csrf_token = sign(f"csrf:{csrf_raw}")
    visitor = None
    if not request.url.path.startswith("/static/"):
        visitor = await run_in_threadpool(load_user, session_cookie(request))
    request.state.visitor = visitor
    request.state.user = visitor.person if visitor else None
    response = await call_next(request)
    if new_csrf:
        set_cookie(response, "cw_csrf", csrf_raw, strict=True)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Cache-Control", "no-store")
    return response


def check_csrf(request: Request, form: FormData) -> None:
    """Refuse a form POST whose hidden token does not match this browser's cookie."""
    sent = str(form.get("csrf_token") or "")
    cookie = request.cookies.get(cookie_name("cw_csrf")) or ""
    if not cookie or not sent or not same(sent, sign(f"csrf:{cookie}")):
        raise AppError(
            403,
            "This form has expired or came from another site. Go back, "
            "reload the page and try again.",
            "The form could not be accepted",
        )


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
