"""Sessions, CSRF, the same-origin check, upload limits and security headers."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from urllib.parse import urlsplit

from fastapi import Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, Headers, MutableHeaders
from starlette.formparsers import MultiPartParser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import AppError, error_response
from core.access import Actor
from core.enums import Phase
from core.settings import Settings, get_settings
from core.tokens import new_token, same, sign
from db.models import Person
from db.people import actor_of
from db.schools import schools_in
from db.session import reading, transaction
from db.sessions import live_session, touch

# Every page's policy: scripts and styles only from our own files, never inline; nothing may
# frame a page, and forms post only back to Casework.
PAGE_CSP = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "frame-ancestors": "'none'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
}
# Methods that only read; every other method changes something and must come from Casework.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
DEFAULT_PORTS = {"http": 80, "https": 443}


def content_security_policy(**changes: str) -> str:
    """The page policy as a header value, with some directives changed (`style_src=...`)."""
    policy = PAGE_CSP | {name.replace("_", "-"): value for name, value in changes.items()}
    return "; ".join(f"{name} {value}" for name, value in policy.items())


def security_headers(settings: Settings) -> dict[str, str]:
    """Headers every response carries unless its route chose its own."""
    headers = {
        "Content-Security-Policy": content_security_policy(),
        "X-Content-Type-Options": "nosniff",
        # Our own address goes with requests to Casework (so browsers send their real Origin
        # on a form post); other sites never see an address, which may hold a one-time link.
        "Referrer-Policy": "same-origin",
        "X-Frame-Options": "DENY",
        "Cache-Control": "no-store",
    }
    if not settings.dev_mode:
        headers["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    return headers


class HttpMiddleware(ABC):
    """An ASGI middleware that acts on HTTP requests and passes anything else straight on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self.http(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    @abstractmethod
    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one HTTP request; each middleware says what it does with it."""


class SecurityHeaders(HttpMiddleware):
    """Add the security headers to every response, the upload-limit page included."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        wanted = security_headers(get_settings())

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in wanted.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def origin_of(url: str) -> str:
    """`scheme://host[:port]` of a URL, lower-case and without a default port; else `url`."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return url
    if not parts.scheme or not parts.hostname:
        return url
    scheme = parts.scheme.lower()
    shown_port = f":{port}" if port is not None and port != DEFAULT_PORTS.get(scheme) else ""
    return f"{scheme}://{parts.hostname.lower()}{shown_port}"


def foreign_origin(request: Request) -> str | None:
    """Where a state-changing request came from, when a header says it was not Casework.

    The Origin header decides; without it, the Referer. A request with neither (a script, an
    old browser) is left to the CSRF token.
    """
    if request.method in SAFE_METHODS:
        return None
    sent = request.headers.get("origin")
    if sent is None:
        referer = request.headers.get("referer")
        if not referer:
            return None
        sent = origin_of(referer)
    if origin_of(sent) == origin_of(get_settings().base_url):
        return None
    return sent


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
    school_phase: Phase  # decides the year groups the forms offer
    schools: list[tuple[int, str]]  # every school they serve, by name


def load_user(raw_session: str | None) -> Visitor | None:
    """The signed-in person behind a session cookie, with their schools."""
    if not raw_session:
        return None
    with reading() as session:
        live = live_session(session, raw_session)
        if live is None:
            return None
        person = live.person
        actor = actor_of(session, person)
        rows = schools_in(session, actor.schools)
        schools = [(s.id, s.name) for s in rows]
        current = live.school_id if live.school_id in actor.schools else person.school_id
        phase = next((s.phase for s in rows if s.id == current), Phase.ALL_THROUGH)
        session.expunge(person)
    if live.stale:
        with transaction() as session:
            touch(session, raw_session)
    return Visitor(
        person=person,
        actor=actor,
        school_id=current,
        school_name=dict(schools).get(current, "Casework"),
        school_phase=phase,
        schools=schools,
    )


class SessionContext(HttpMiddleware):
    """Attach the user and a CSRF token to every request; set the CSRF cookie if new.

    A plain ASGI middleware: Starlette's `BaseHTTPMiddleware` passes every chunk of a request
    body through a task group of its own, which was a third of reading a 2 MB upload.
    """

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope)  # shares the scope, so the route sees `request.state`
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
        answer: ASGIApp = self.app
        stranger = foreign_origin(request)
        if stranger is not None:
            answer = refused_origin(request, stranger)
        await answer(scope, receive, with_csrf_cookie(send, csrf_raw) if new_csrf else send)


def with_csrf_cookie(send: Send, csrf_raw: str) -> Send:
    """`send`, with the new CSRF cookie added to the response's headers."""
    carrier = Response()
    set_cookie(carrier, "cw_csrf", csrf_raw, strict=True)
    cookie = [(k, v) for k, v in carrier.raw_headers if k == b"set-cookie"]

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), *cookie]}
        await send(message)

    return sending


def refused_origin(request: Request, origin: str) -> Response:
    """The 403 for a form sent from a page that is not Casework's own."""
    home = get_settings().base_url
    return error_response(
        request,
        403,
        f"This request came from another website ({origin[:100]}), not from Casework at "
        f"{home}, so nothing was done. If you pressed a button in Casework, open Casework at "
        f"{home} and try again.",
        "The form could not be accepted",
    )


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


class BodyLimit(HttpMiddleware):
    """Refuse request bodies over the limit with 413, before reading them whole.

    A body that declares its length is refused before any of it is read. A chunked body is
    cut off as soon as what has arrived passes the limit: the app is told the client has gone
    (so it stops reading), and whatever it answers is replaced by the 413 page.
    """

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit = get_settings().max_request_bytes
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await too_large(send, limit)
            return
        received = 0
        exceeded = started = False

        async def counted_receive() -> Message:
            nonlocal received, exceeded
            if exceeded:
                return {"type": "http.disconnect"}
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                exceeded = True
                return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded and not started:
                return  # the app's answer to a body it never got; the 413 goes instead
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, counted_receive, guarded_send)
        if exceeded and not started:
            await too_large(send, limit)


async def too_large(send: Send, limit: int) -> None:
    body = (
        "<!doctype html><html lang='en-GB' class='govuk-template'><head><meta charset='utf-8'>"
        "<title>Upload too large</title>"
        "<link rel='stylesheet' href='/static/build/casework.css'></head><body><main>"
        "<h1>The upload is too large</h1>"
        f"<p>Everything sent together must be under {size_text(limit)}. Nothing was "
        "saved. Go back, attach fewer or smaller files (each file up to "
        f"{size_text(get_settings().max_file_bytes)}) and send the report again.</p>"
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


def size_text(size: int) -> str:
    """A limit in words: `10 MB`, or `195 KB` below a megabyte."""
    if size >= 1024 * 1024:
        return f"{size // (1024 * 1024)} MB"
    return f"{max(size // 1024, 1)} KB"


class FileTooLarge(AppError):
    """One uploaded file went past the per-file limit while it was arriving."""

    def __init__(self, filename: str, limit: int) -> None:
        super().__init__(
            413,
            f"{filename or 'One of the files'} is larger than {size_text(limit)}, the most "
            "Casework takes for one file. Nothing was saved. Go back, attach a smaller file "
            "(or a screenshot of the part that matters) and send the form again.",
        )


class FilesWithinLimit(MultiPartParser):
    """Starlette's multipart parser, stopping at the first file that passes `max_file_bytes`.

    The check runs on each piece of a file as it is parsed, so the rest of the body is never
    read once one file is too large.
    """

    def __init__(
        self,
        headers: Headers,
        request: Request,
        *,
        max_files: int,
        max_fields: int,
        max_file_bytes: int,
    ) -> None:
        super().__init__(headers, request.stream(), max_files=max_files, max_fields=max_fields)
        self.max_file_bytes = max_file_bytes
        self.file_bytes = 0

    def on_part_begin(self) -> None:
        super().on_part_begin()
        self.file_bytes = 0

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        upload = self._current_part.file
        if upload is not None:
            self.file_bytes += end - start
            if self.file_bytes > self.max_file_bytes:
                raise FileTooLarge(upload.filename or "", self.max_file_bytes)
        super().on_part_data(data, start, end)


async def read_form(request: Request, *, max_files: int = 1000, max_fields: int = 1000) -> FormData:
    """The posted form, within the request and per-file limits; unreadable input is a 400."""
    try:
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            parser = FilesWithinLimit(
                request.headers,
                request,
                max_files=max_files,
                max_fields=max_fields,
                max_file_bytes=get_settings().max_file_bytes,
            )
            return await parser.parse()
        return await request.form(max_files=max_files, max_fields=max_fields)
    except AppError:
        raise
    except Exception as exc:  # multipart parse errors: bad input, not our failure
        raise AppError(
            400, "The form could not be read. Please go back and send it again."
        ) from exc
