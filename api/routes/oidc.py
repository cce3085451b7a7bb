"""Sign-in with an organisation's identity provider (OpenID Connect).

/oidc/start/{id} sends the browser to the provider with a fresh state and nonce, kept in a
short-lived signed cookie; /oidc/callback checks them, takes the ID token and finds the
person by verified email among the people who sign in at the organisation's schools. An
elevated role still needs Casework's own second factor unless the provider is trusted for
MFA and says it was used.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from api.errors import AppError
from api.limits import limiter_of
from api.oidc import (
    Provider,
    authorisation_url,
    id_token_claims,
    mfa_claimed,
    new_secret,
    verified_email,
)
from api.security import client_ip, cookie_name, drop_cookie, set_cookie
from api.signin import after_first_step, safe_next
from core.sealed import Unreadable
from core.settings import get_settings
from core.tokens import same, sign
from db.identity import client_secret, get_provider, member_by_email
from db.models import Person
from db.schools import get_organisation
from db.session import reading

router = APIRouter()
FLOW = "cw_oidc"
FLOW_MINUTES = 10
START_AGAIN = (
    "This sign-in could not be matched to one Casework started, or it took too long. "
    "Start again from the sign-in page."
)


def redirect_uri() -> str:
    return f"{get_settings().base_url}/oidc/callback"


def load_provider(provider_id: int) -> tuple[Provider, int]:
    """The provider and its organisation."""
    with reading() as session:
        row = get_provider(session, provider_id)
        if row is None:
            raise AppError(404, "That sign-in option is not set up. Use the sign-in page.")
        try:
            secret = client_secret(row)
        except Unreadable as exc:
            raise AppError(
                503,
                f"Sign-in with {row.name} is not working: its settings were saved under "
                "another secret key. Ask whoever looks after Casework to add it again.",
            ) from exc
        provider = Provider(
            row.id,
            row.name,
            row.issuer,
            row.client_id,
            secret,
            trust_mfa=row.trust_mfa,
            trust_email=row.trust_email,
        )
        return provider, row.organisation_id


def pack(data: dict[str, Any]) -> str:
    body = base64.urlsafe_b64encode(json.dumps(data).encode()).decode()
    return f"{body}.{sign(f'oidc:{body}')}"


def unpack(value: str) -> dict[str, Any] | None:
    body, _, mac = value.rpartition(".")
    if not body or not same(mac, sign(f"oidc:{body}")):
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(body.encode()))
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


@router.get("/oidc/start/{provider_id}")
def oidc_start(request: Request, provider_id: int, next: str = "/") -> Response:
    limiter_of(request).hit("rate_signin_per_ip", client_ip(request))
    provider, _ = load_provider(provider_id)
    state, nonce = new_secret(), new_secret()
    target = authorisation_url(provider, redirect_uri(), state, nonce)
    response = RedirectResponse(target, status_code=303)
    flow = {"provider": provider.id, "state": state, "nonce": nonce, "next": safe_next(next)}
    set_cookie(response, FLOW, pack(flow), max_age=FLOW_MINUTES * 60)
    return response


def matched_person(provider: Provider, organisation_id: int, claims: dict[str, Any]) -> Person:
    """The person the verified email of the claims belongs to, or a page saying why not."""
    email = verified_email(provider, claims)
    if not email:
        raise AppError(
            403,
            f"{provider.name} did not give Casework a verified email address for you, so "
            "Casework cannot tell who you are. Use the emailed link on the sign-in page.",
            "Casework could not sign you in",
        )
    with reading() as session:
        person = member_by_email(session, organisation_id, email)
        if person is None:
            where = get_organisation(session, organisation_id).name
            raise AppError(
                403,
                f"No one at {where} signs in to Casework as {email}. If you should, ask "
                "whoever looks after Casework at your school to add you with this address.",
                "Casework could not sign you in",
            )
        session.expunge(person)
        return person


@router.get("/oidc/callback")
def oidc_callback(request: Request, code: str = "", state: str = "", error: str = "") -> Response:
    limiter_of(request).hit("rate_links_per_ip", client_ip(request))
    flow = unpack(request.cookies.get(cookie_name(FLOW)) or "")
    if flow is None or not state or not same(state, str(flow.get("state", ""))):
        raise AppError(400, START_AGAIN, "Casework could not sign you in")
    provider, organisation_id = load_provider(int(flow["provider"]))
    if error or not code:
        raise AppError(
            403,
            f"{provider.name} did not sign you in. Try again, or use the emailed link on the "
            "sign-in page.",
            "Casework could not sign you in",
        )
    claims = id_token_claims(provider, code, redirect_uri(), str(flow["nonce"]))
    person = matched_person(provider, organisation_id, claims)
    response = after_first_step(
        request,
        person,
        f"idp:{provider.id}",
        str(flow.get("next") or "/"),
        mfa_done=provider.trust_mfa and mfa_claimed(claims),
    )
    drop_cookie(response, FLOW)
    return response
