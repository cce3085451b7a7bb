"""OpenID Connect, the authorisation code flow, as a client of an organisation's provider.

Authlib builds the authorisation request (and the state and nonce secrets); the provider's
discovery document, token endpoint and keys are fetched with httpx; joserfc (Authlib's JOSE
library) checks the ID token's signature, issuer, audience, expiry and nonce.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from api.errors import AppError

TIMEOUT = 10.0
SCOPES = "openid email profile"
_discovery: dict[str, dict[str, Any]] = {}


@dataclass(frozen=True)
class Provider:
    """What the flow needs of an identity_providers row (secret unsealed)."""

    id: int
    name: str
    issuer: str
    client_id: str
    client_secret: str
    trust_mfa: bool = False  # an `amr` claim of "mfa" is the second factor done
    trust_email: bool = False  # an email without `email_verified` counts as verified


def unreachable(provider: Provider) -> AppError:
    return AppError(
        503,
        f"Casework could not reach {provider.name} to sign you in. Try again in a few "
        "minutes, or use the emailed link on the sign-in page.",
    )


def discover(provider: Provider) -> dict[str, Any]:
    """The provider's OpenID configuration (kept once fetched, per issuer)."""
    if provider.issuer not in _discovery:
        url = f"{provider.issuer}/.well-known/openid-configuration"
        try:
            answer = httpx.get(url, timeout=TIMEOUT)
            answer.raise_for_status()
            config = answer.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise unreachable(provider) from exc
        _discovery[provider.issuer] = config
    return _discovery[provider.issuer]


def new_secret() -> str:
    return generate_token(32)


def authorisation_url(provider: Provider, redirect_uri: str, state: str, nonce: str) -> str:
    endpoint = str(discover(provider)["authorization_endpoint"])
    return str(
        prepare_grant_uri(
            endpoint,
            client_id=provider.client_id,
            response_type="code",
            redirect_uri=redirect_uri,
            scope=SCOPES,
            state=state,
            nonce=nonce,
        )
    )


def id_token_claims(provider: Provider, code: str, redirect_uri: str, nonce: str) -> dict[str, Any]:
    """Exchange the code for tokens and return the checked ID token's claims."""
    config = discover(provider)
    try:
        answer = httpx.post(
            str(config["token_endpoint"]),
            data={"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri},
            auth=(provider.client_id, provider.client_secret),
            timeout=TIMEOUT,
        )
        if answer.status_code >= 500:
            raise unreachable(provider)
        tokens = answer.json()
        keys = httpx.get(str(config["jwks_uri"]), timeout=TIMEOUT)
        keys.raise_for_status()
        key_set = KeySet.import_key_set(keys.json())
    except (httpx.HTTPError, ValueError) as exc:
        raise unreachable(provider) from exc
    refused = AppError(
        403,
        f"{provider.name} did not confirm who you are. Try again, or use the emailed link "
        "on the sign-in page.",
    )
    raw = tokens.get("id_token") if isinstance(tokens, dict) else None
    if not isinstance(raw, str):
        raise refused
    try:
        token = jwt.decode(raw, key_set, algorithms=["RS256", "ES256", "PS256"])
        jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": provider.issuer},
            aud={"essential": True, "value": provider.client_id},
            nonce={"essential": True, "value": nonce},
            sub={"essential": True},
            exp={"essential": True},
        ).validate(token.claims)
    except (JoseError, ValueError) as exc:
        raise refused from exc
    return dict(token.claims)


def verified_email(provider: Provider, claims: dict[str, Any]) -> str:
    """The email address the claims give, if the provider vouches for it; else "".

    `email_verified` must be true, or, from a provider trusted for its addresses
    (`trust_email`, for Microsoft Entra ID, which does not send the claim), absent.
    """
    email = claims.get("email")
    verified = claims.get("email_verified", True if provider.trust_email else None)
    if not isinstance(email, str) or "@" not in email or verified is not True:
        return ""
    return email


def mfa_claimed(claims: dict[str, Any]) -> bool:
    """Whether the provider says a second factor was used (`amr` holds "mfa")."""
    amr = claims.get("amr")
    return isinstance(amr, list) and "mfa" in amr
