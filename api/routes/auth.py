"""Sign-in by a one-time emailed link, and sign-out."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from api.errors import AppError
from api.pages import render_page
from api.security import (
    SESSION_COOKIE,
    check_csrf,
    client_ip,
    end_session,
    start_session,
)
from core.settings import get_settings
from core.templating import render_email
from core.tokens import new_token, token_hash
from db.models import Person, School, SignInToken, utcnow
from db.outbox import queue_email
from db.people import staff_by_email
from db.session import transaction

router = APIRouter()


def safe_next(value: str | None) -> str:
    """Only same-site paths: never redirect a signed-in person off to another site."""
    if value and value.startswith("/") and not value.startswith("//"):
        return value
    return "/"


@router.get("/signin")
async def signin_form(request: Request, next: str = "/") -> Response:
    return render_page(request, "pages/signin.html", next=safe_next(next), email="", error="")


def send_signin_link(email: str, next_path: str) -> None:
    """Email a one-time link if `email` belongs to staff; silently nothing otherwise."""
    settings = get_settings()
    with transaction() as session:
        person = staff_by_email(session, email)
        if person is None:
            return
        raw = new_token()
        row = SignInToken(
            person_id=person.id,
            token_hash=token_hash(raw),
            expires_at=utcnow() + timedelta(minutes=settings.signin_ttl_minutes),
        )
        session.add(row)
        session.flush()
        link = f"{settings.base_url}/signin/{raw}?next={quote(next_path)}"
        email_msg = render_email(
            "emails/signin_link",
            school=session.get(School, person.school_id),
            person=person,
            link=link,
            ttl_minutes=settings.signin_ttl_minutes,
        )
        queue_email(
            session, dedup_key=f"signin:{row.id}", to=person, email=email_msg, kind="signin_link"
        )


@router.post("/signin")
async def signin_request(request: Request) -> Response:
    form = await request.form()
    check_csrf(request, form)
    email = str(form.get("email") or "").strip()
    next_path = safe_next(str(form.get("next") or "/"))
    if "@" not in email or len(email) > 320:
        return render_page(
            request,
            "pages/signin.html",
            status_code=400,
            next=next_path,
            email=email,
            error="Enter your school email address, like name@school.example.",
        )
    await run_in_threadpool(send_signin_link, email, next_path)
    # The same answer whether or not the address is known: no way to probe for staff.
    return render_page(request, "pages/signin_sent.html", email=email)


def valid_signin(raw: str) -> SignInToken:
    with transaction() as session:
        row = session.query(SignInToken).filter_by(token_hash=token_hash(raw)).first()
        if row is None or row.used_at is not None or row.expires_at <= utcnow():
            raise AppError(
                410,
                "This sign-in link has expired or has been used. Ask for a new "
                "one on the sign-in page.",
            )
        session.expunge(row)
        return row


@router.get("/signin/{raw}")
async def signin_confirm(request: Request, raw: str, next: str = "/") -> Response:
    # Showing a button, not signing in: mail scanners open links too.
    await run_in_threadpool(valid_signin, raw)
    return render_page(request, "pages/signin_confirm.html", raw=raw, next=safe_next(next))


def consume_signin(raw: str) -> Person:
    with transaction() as session:
        row = session.query(SignInToken).filter_by(token_hash=token_hash(raw)).first()
        now = utcnow()
        if row is None or row.used_at is not None or row.expires_at <= now:
            raise AppError(
                410,
                "This sign-in link has expired or has been used. Ask for a new "
                "one on the sign-in page.",
            )
        row.used_at = now
        person = session.get(Person, row.person_id)
        if person is None or not person.active:
            raise AppError(403, "This account is not active.")
        session.expunge(person)
        return person


@router.post("/signin/{raw}")
async def signin_complete(request: Request, raw: str) -> Response:
    form = await request.form()
    check_csrf(request, form)
    person = await run_in_threadpool(consume_signin, raw)
    cookie = await run_in_threadpool(
        start_session, person, client_ip(request), request.headers.get("user-agent", "")
    )
    response = RedirectResponse(safe_next(str(form.get("next") or "/")), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        cookie,
        httponly=True,
        samesite="lax",
        secure=get_settings().secure_cookies,
        path="/",
        max_age=get_settings().session_ttl_hours * 3600,
    )
    return response


@router.post("/signout")
async def signout(request: Request) -> Response:
    form = await request.form()
    check_csrf(request, form)
    await run_in_threadpool(end_session, request.cookies.get(SESSION_COOKIE))
    response = RedirectResponse("/signin", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
