"""Signing in with an organisation's identity provider, against a real OpenID provider.

The provider is oidc-provider-mock, run as its own process for each test. Its documented
way to choose who signs in: PUT /users/{sub} with the claims, then POST the authorisation
form with that `sub`.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from core.settings import Settings
from db.identity import add_provider, providers
from db.models import UserSession
from db.schools import first_school
from db.session import transaction
from mail.catcher import free_port
from tests.support import count, oidc_provider, second_factor


@pytest.fixture
def provider(tmp_path: Path) -> Iterator[str]:
    """A real OpenID Connect provider on loopback; its issuer URL."""
    port = free_port()
    argv = [sys.executable, "-m", "oidc_provider_mock", "--port", str(port)]
    with oidc_provider(argv, f"http://127.0.0.1:{port}", tmp_path / "oidc.log") as issuer:
        yield issuer


def add_idp(
    settings: Settings, issuer: str, trust_mfa: bool = True, trust_email: bool = False
) -> int:
    with transaction(settings.database_url) as session:
        school = first_school(session)
        assert school is not None
        row = add_provider(
            session,
            organisation_id=school.organisation_id,
            name="Oakfield Microsoft",
            issuer=issuer,
            client_id="casework-test",
            client_secret="a-client-secret",
            trust_mfa=trust_mfa,
            trust_email=trust_email,
        )
        return row.id


def sign_in_at_provider(client: TestClient, issuer: str, sub: str, claims: dict[str, Any]) -> Any:
    """Press the provider's button, sign in there as `sub`, follow it back to Casework."""
    with httpx.Client(timeout=10) as idp:
        idp.put(f"{issuer}/users/{sub}", json=claims).raise_for_status()
        page = client.get("/signin")
        assert "Sign in with Oakfield Microsoft" in page.text
        start = client.get("/oidc/start/1?next=/audit", follow_redirects=False)
        assert start.status_code == 303 and start.headers["location"].startswith(issuer)
        back = idp.post(start.headers["location"], data={"sub": sub}, follow_redirects=False)
    assert back.status_code == 302, back.text
    assert back.headers["location"].startswith("http://testserver/oidc/callback?")
    return client.get(back.headers["location"], follow_redirects=False)


def test_a_verified_email_signs_in(client: TestClient, configured: Settings, provider: str) -> None:
    add_idp(configured, provider)
    claims = {"email": "Tom.Byrne@oakfield.example", "email_verified": True}
    done = sign_in_at_provider(client, provider, "tom-1", claims)
    assert done.status_code == 303 and done.headers["location"] == "/audit"
    assert "Tom Byrne" in client.get("/").text


def test_an_unknown_or_unverified_email_is_refused(
    client: TestClient, configured: Settings, provider: str
) -> None:
    add_idp(configured, provider)
    claims = {"email": "stranger@oakfield.example", "email_verified": True}
    refused = sign_in_at_provider(client, provider, "stranger", claims)
    assert refused.status_code == 403
    assert "Casework could not sign you in" in refused.text
    assert "No one at" in refused.text and "stranger@oakfield.example" in refused.text
    claims = {"email": "tom.byrne@oakfield.example", "email_verified": False}
    unverified = sign_in_at_provider(client, provider, "tom-2", claims)
    assert unverified.status_code == 403 and "verified email address" in unverified.text
    assert count(configured.database_url, UserSession) == 0


def test_an_entra_style_token_without_email_verified_needs_the_provider_trusted_for_email(
    client: TestClient, configured: Settings, provider: str
) -> None:
    """Microsoft Entra ID sends `email` but no `email_verified` claim at all."""
    add_idp(configured, provider)
    entra = {"email": "tom.byrne@oakfield.example", "name": "Tom Byrne"}
    refused = sign_in_at_provider(client, provider, "tom-entra", entra)
    assert refused.status_code == 403 and "verified email address" in refused.text
    assert count(configured.database_url, UserSession) == 0

    with transaction(configured.database_url) as session:
        (row,) = providers(session)
        row.trust_email = True
    done = sign_in_at_provider(client, provider, "tom-entra", entra)
    assert done.status_code == 303 and done.headers["location"] == "/audit"
    assert "Tom Byrne" in client.get("/").text

    client.cookies.clear()
    said_no = {**entra, "email_verified": False}
    refused = sign_in_at_provider(client, provider, "tom-entra", said_no)
    assert refused.status_code == 403, "the provider saying no still counts"


def test_an_elevated_role_without_the_mfa_claim_is_asked_for_a_code(
    client: TestClient, configured: Settings, provider: str
) -> None:
    add_idp(configured, provider)
    claims = {"email": "head@oakfield.example", "email_verified": True, "amr": ["pwd"]}
    done = sign_in_at_provider(client, provider, "head-1", claims)
    assert done.status_code == 303 and done.headers["location"] == "/second-factor"
    assert count(configured.database_url, UserSession) == 0
    page = client.get("/second-factor")
    assert "Set up your authenticator app" in page.text
    finished = second_factor(client, "head@oakfield.example", page)
    assert finished.status_code == 303 and finished.headers["location"] == "/audit"
    assert "Helen Okafor" in client.get("/").text


@pytest.mark.parametrize(("trusted", "lands_on"), [(True, "/audit"), (False, "/second-factor")])
def test_an_mfa_claim_counts_only_from_a_trusted_provider(
    client: TestClient, configured: Settings, provider: str, trusted: bool, lands_on: str
) -> None:
    add_idp(configured, provider, trust_mfa=trusted)
    claims = {"email": "head@oakfield.example", "email_verified": True, "amr": ["pwd", "mfa"]}
    done = sign_in_at_provider(client, provider, "head-2", claims)
    assert done.status_code == 303 and done.headers["location"] == lands_on
    assert ("Helen Okafor" in client.get("/").text) == trusted


def test_a_callback_it_did_not_start_is_refused(client: TestClient) -> None:
    answer = client.get("/oidc/callback?code=abc&state=forged")
    assert answer.status_code == 400 and "Start again from the sign-in page" in answer.text
