"""Secrets Casework must read back (authenticator secrets, identity-provider client secrets),
kept sealed with a key derived from the app's secret key: a copied database alone opens none.

Fernet (from `cryptography`) gives authenticated encryption; changing CASEWORK_SECRET_KEY
makes every sealed value unreadable, so people enrol their authenticator again.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken

from core.settings import get_settings


class Unreadable(Exception):
    """A sealed value that this secret key did not seal."""


def _fernet() -> Fernet:
    secret = get_settings().secret_key.get_secret_value().encode()
    key = hashlib.sha256(b"casework-sealed:" + secret).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def seal(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode()


def unseal(sealed: str) -> str:
    try:
        return _fernet().decrypt(sealed.encode()).decode()
    except InvalidToken as exc:
        raise Unreadable("sealed with another secret key") from exc
