"""Sign-in by a one-time emailed link (and the sign-in page with its providers), and sign-out.

Asking for a link answers at once with the same page whatever the address; finding the
person and queueing the email happen after the response (a background task), so neither
the page nor its timing says whether an address belongs to anyone.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

from fastapi import APIRouter, BackgroundTasks, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from api.deps import posted_form
from api.errors import AppError
from api.limits import limiter_of, links_per_ip
from api.pages import render_page
from api.security import client_ip, drop_cookie, session_cookie
from api.signin import after_first_step, safe_next
from core.enums import EmailKind
from core.rules import looks_like_email
from core.settings import get_settings
from core.templating import render_email
from db import sessions
from db.identity import providers
from db.models import Person
from db.outbox import dedup_key, queue_email
from db.people import staff_by_email
from db.schools import get_school
from db.session import reading, transaction

router = APIRouter()
USED_OR_EXPIRED = (
    "This sign-in link has expired or has been used. Ask for a new one on the sign-in page."
)


def signin_page(
    request: Request, next_path: str, email: str = "", error: str = "", status_code: int = 200
) -> Response:
    with reading() as session:
        buttons = [(p.id, p.name) for p in providers(session)]
    return render_page(
        request,
        "pages/signin.html",
        status_code=status_code,
        next=next_path,
        email=email,
        error=error,
        providers=buttons,
    )


@router.get("/signin")
def signin_form(request: Request, next: str = "/") -> Response:
    return signin_page(request, safe_next(next))


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
def signin_request(
    request: Request, background: BackgroundTasks, form: FormData = Depends(posted_form)
) -> Response:
    email = str(form.get("email") or "").strip()
    next_path = safe_next(str(form.get("next") or "/"))
    if not looks_like_email(email):
        return signin_page(
            request,
            next_path,
            email=email,
            error="Enter your school email address, like name@school.example.",
            status_code=400,
        )
    limiter = limiter_of(request)
    limiter.hit("rate_signin_per_ip", client_ip(request))
    limiter.hit("rate_signin_per_address", email.lower())
    # The same answer, at the same speed, whether or not the address is known: the lookup
    # and the email happen after the response has gone.
    background.add_task(send_signin_link, email, next_path)
    return render_page(request, "pages/signin_sent.html", email=email)


@router.get("/signin/{raw}", dependencies=[Depends(links_per_ip)])
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


@router.post("/signin/{raw}", dependencies=[Depends(links_per_ip)])
def signin_complete(request: Request, raw: str, form: FormData = Depends(posted_form)) -> Response:
    person = consume_signin(raw)
    return after_first_step(request, person, "link", safe_next(str(form.get("next") or "/")))


@router.post("/signout")
def signout(request: Request, form: FormData = Depends(posted_form)) -> Response:
    raw = session_cookie(request)
    if raw:
        with transaction() as session:
            sessions.end_session(session, raw)
    response = RedirectResponse("/signin", status_code=303)
    drop_cookie(response, "cw_session")
    return response
