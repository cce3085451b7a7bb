"""Sign-in by a one-time emailed link, and sign-out."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from api.deps import posted_form
from api.errors import AppError
from api.pages import render_page
from api.security import SESSION_COOKIE, client_ip
from core.enums import EmailKind
from core.rules import looks_like_email
from core.settings import get_settings
from core.templating import render_email
from db import sessions
from db.models import Person
from db.outbox import dedup_key, queue_email
from db.people import staff_by_email
from db.schools import get_school
from db.session import transaction

router = APIRouter()
USED_OR_EXPIRED = (
    "This sign-in link has expired or has been used. Ask for a new one on the sign-in page."
)


def safe_next(value: str | None) -> str:
    """Only same-site paths: never redirect a signed-in person off to another site."""
    if value and value.startswith("/") and not value.startswith("//"):
        return value
    return "/"


@router.get("/signin")
def signin_form(request: Request, next: str = "/") -> Response:
    return render_page(request, "pages/signin.html", next=safe_next(next), email="", error="")


def send_signin_link(email: str, next_path: str) -> None:
    """Email a one-time link if `email` belongs to staff; silently nothing otherwise."""
    settings = get_settings()
    with transaction() as session:
        person = staff_by_email(session, email)
        if person is None:
            return
        ttl = timedelta(minutes=settings.signin_ttl_minutes)
        row, raw = sessions.add_signin_token(session, person, ttl)
        link = f"{settings.base_url}/signin/{raw}?next={quote(next_path)}"
        message = render_email(
            f"emails/{EmailKind.SIGNIN_LINK}",
            school=get_school(session, person.school_id),
            person=person,
            link=link,
            ttl_minutes=settings.signin_ttl_minutes,
        )
        queue_email(
            session,
            dedup_key=dedup_key(EmailKind.SIGNIN_LINK, row.id),
            to=person,
            email=message,
            kind=EmailKind.SIGNIN_LINK,
        )


@router.post("/signin")
def signin_request(request: Request, form: FormData = Depends(posted_form)) -> Response:
    email = str(form.get("email") or "").strip()
    next_path = safe_next(str(form.get("next") or "/"))
    if not looks_like_email(email):
        return render_page(
            request,
            "pages/signin.html",
            status_code=400,
            next=next_path,
            email=email,
            error="Enter your school email address, like name@school.example.",
        )
    send_signin_link(email, next_path)
    # The same answer whether or not the address is known: no way to probe for staff.
    return render_page(request, "pages/signin_sent.html", email=email)


@router.get("/signin/{raw}")
def signin_confirm(request: Request, raw: str, next: str = "/") -> Response:
    # Showing a button, not signing in: mail scanners open links too.
    with transaction() as session:
        if sessions.live_signin_token(session, raw) is None:
            raise AppError(410, USED_OR_EXPIRED)
    return render_page(request, "pages/signin_confirm.html", raw=raw, next=safe_next(next))


def consume_signin(raw: str) -> Person:
    """Spend the sign-in link; the person it signs in."""
    with transaction() as session:
        person = sessions.use_signin_token(session, raw)
        if person is None:
            raise AppError(410, USED_OR_EXPIRED)
        if not person.active:
            raise AppError(403, "This account is not active.")
        session.expunge(person)
        return person


@router.post("/signin/{raw}")
def signin_complete(request: Request, raw: str, form: FormData = Depends(posted_form)) -> Response:
    person = consume_signin(raw)
    settings = get_settings()
    with transaction() as session:
        cookie = sessions.start_session(
            session,
            person,
            timedelta(hours=settings.session_ttl_hours),
            ip=client_ip(request),
            user_agent=request.headers.get("user-agent", "")[:200],
        )
    response = RedirectResponse(safe_next(str(form.get("next") or "/")), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        httponly=True,
        samesite="lax",
        secure=settings.secure_cookies,
        path="/",
        max_age=settings.session_ttl_hours * 3600,
    )
    return response


@router.post("/signout")
def signout(request: Request, form: FormData = Depends(posted_form)) -> Response:
    raw = request.cookies.get(SESSION_COOKIE)
    if raw:
        with transaction() as session:
            sessions.end_session(session, raw)
    response = RedirectResponse("/signin", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
