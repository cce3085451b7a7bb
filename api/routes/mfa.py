"""The second factor: a code from an authenticator app (TOTP), for elevated roles.

A person reaches these pages only with a live challenge cookie (api/signin.py). Someone
not enrolled yet sees a new secret, as text and as an otpauth:// link, and confirms it with
a first code; someone enrolled types a code. A code is accepted once: the time step of the
last accepted code is stored, and no code of that step or an earlier one works again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import pyotp
from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from api.deps import posted_form
from api.errors import AppError
from api.limits import limiter_of
from api.pages import render_page
from api.security import client_ip, cookie_name
from api.signin import CHALLENGE, start_session
from core.settings import get_settings
from db.identity import (
    close_challenges,
    enrolment_secret,
    live_challenge,
    spend_step,
    totp_of,
    totp_secret,
)
from db.models import Person
from db.people import get_person
from db.session import transaction

router = APIRouter()
NO_CHALLENGE = (
    "Your sign-in has expired or was finished already. Start again from the sign-in page."
)
WRONG_CODE = (
    "That code is not right. Enter the 6-digit code your authenticator app shows now "
    "(each code works once)."
)
STEP = 30  # seconds each code lasts


def matching_step(secret: str, code: str, now: float) -> int | None:
    """The time step of `code` if it is the code of now, or of the step just before or
    after (clocks drift); None if it matches none."""
    totp = pyotp.TOTP(secret, interval=STEP)
    current = int(now // STEP)
    for step in (current, current - 1, current + 1):
        if pyotp.utils.strings_equal(totp.generate_otp(step), code):
            return step
    return None


def page(
    request: Request, person: Person, secret: str | None, error: str = "", status_code: int = 200
) -> Response:
    uri = ""
    if secret is not None:
        uri = pyotp.TOTP(secret).provisioning_uri(
            name=person.email or person.name, issuer_name=get_settings().totp_issuer
        )
    return render_page(
        request,
        "pages/second_factor.html",
        status_code=status_code,
        person=person,
        secret=secret,
        uri=uri,
        error=error,
    )


@dataclass(frozen=True)
class Challenge:
    id: int
    person: Person
    how: str  # the first step: "link" or "idp:<id>"
    next_path: str


def challenge_of(request: Request) -> Challenge:
    """The live challenge behind this browser's cookie, or a page saying to start again."""
    raw = request.cookies.get(cookie_name(CHALLENGE)) or ""
    with transaction() as session:
        row = live_challenge(session, raw) if raw else None
        if row is None:
            raise AppError(410, NO_CHALLENGE)
        person = get_person(session, row.person_id)
        if not person.active:
            raise AppError(403, "This account is not active.")
        session.expunge(person)
        return Challenge(row.id, person, row.how, row.next_path)


def enrolling_secret(person: Person) -> str | None:
    """The secret to show for enrolment, or None if the person has enrolled."""
    with transaction() as session:
        row = totp_of(session, person.id)
        if row is not None and row.confirmed_at is not None and totp_secret(row) is not None:
            return None
        return enrolment_secret(session, person.id, pyotp.random_base32())


@router.get("/second-factor")
def second_factor(request: Request) -> Response:
    person = challenge_of(request).person
    return page(request, person, enrolling_secret(person))


@router.post("/second-factor")
def second_factor_check(request: Request, form: FormData = Depends(posted_form)) -> Response:
    challenge = challenge_of(request)
    person = challenge.person
    limiter = limiter_of(request)
    limiter.hit("rate_codes_per_ip", client_ip(request))
    limiter.hit("rate_codes_per_person", str(person.id))
    showing = enrolling_secret(person)
    code = "".join(str(form.get("code") or "").split())
    if not (code.isdigit() and len(code) == 6):
        return page(
            request,
            person,
            showing,
            "Enter the 6-digit code from your authenticator app, like 123456.",
            400,
        )
    with transaction() as session:
        row = totp_of(session, person.id)
        secret = totp_secret(row) if row is not None else None
        step = matching_step(secret, code, time.time()) if secret else None
        accepted = row is not None and step is not None and spend_step(session, row, step)
        if accepted:
            close_challenges(session, [challenge.id])
    if not accepted:
        return page(request, person, showing, WRONG_CODE, 400)
    return start_session(request, person, challenge.next_path, f"{challenge.how}+totp")
