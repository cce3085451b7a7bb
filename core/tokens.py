"""Random secrets handed to people, and the hashes we keep instead of them."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from core.settings import get_settings


def new_token() -> str:
    """A URL-safe secret with 256 bits of randomness."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What the database keeps: a leaked table gives no working links."""
    return hashlib.sha256(token.encode()).hexdigest()


def sign(value: str) -> str:
    """An HMAC of `value` under the app's secret key (used for CSRF tokens)."""
    key = get_settings().secret_key.get_secret_value().encode()
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def new_code() -> str:
    """A six-digit code a person reads in one email and types into a page."""
    return f"{secrets.randbelow(1_000_000):06d}"


def code_hash(scope: object, code: str) -> str:
    """What the database keeps of a short code: keyed by the app's secret, so the table
    alone does not let anyone try all million codes offline."""
    return sign(f"code:{scope}:{code.strip()}")


def reply_tag(token_hash: str) -> str:
    """The secret part of a request's reply address: 128 bits keyed by the app's secret.

    Made from the stored hash of the link's token, so a renewed link changes it too, and
    the address never reveals the link itself.
    """
    return sign(f"reply:{token_hash}")[:32]
