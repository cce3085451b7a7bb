"""Sessions: idle and absolute timeouts, a new cookie at each sign-in, revoked server-side."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from core.settings import Settings, get_settings
from db.models import Person, UserSession, utcnow
from db.session import transaction
from db.sessions import end_sessions_of
from mail.catcher import MailStore
from tests.support import signin

STAFF = "tom.byrne@oakfield.example"
Mail = tuple[MailStore, int]


def signed_in_now(client: TestClient) -> bool:
    return client.get("/", follow_redirects=False).status_code == 200


def move_last_seen_back(url: str, minutes: int) -> None:
    with transaction(url) as session:
        for row in session.query(UserSession):
            row.last_seen_at = utcnow() - timedelta(minutes=minutes)


def test_a_session_ends_after_30_idle_minutes(
    signed_in: Callable[[str], TestClient], configured: Settings
) -> None:
    client = signed_in(STAFF)
    move_last_seen_back(configured.database_url, 29)
    assert signed_in_now(client)  # ... and that request counts as activity:
    with transaction(configured.database_url) as session:
        row = session.query(UserSession).one()
        assert row.last_seen_at is not None and utcnow() - row.last_seen_at < timedelta(minutes=1)
    move_last_seen_back(configured.database_url, 31)
    assert not signed_in_now(client)


def test_a_session_ends_at_its_absolute_expiry(
    signed_in: Callable[[str], TestClient], configured: Settings
) -> None:
    client = signed_in(STAFF)
    with transaction(configured.database_url) as session:
        session.query(UserSession).one().expires_at = utcnow() - timedelta(seconds=1)
    assert not signed_in_now(client)


def test_each_sign_in_gets_a_new_session_and_ends_the_old_one(
    client: TestClient, configured: Settings, smtp: Mail, deliver: Callable[[], int]
) -> None:
    signin(client, STAFF, smtp[0], deliver)
    first = client.cookies.get("cw_session")
    first_csrf = client.cookies.get("cw_csrf")
    signin(client, STAFF, smtp[0], deliver)
    second = client.cookies.get("cw_session")
    assert first and second and first != second
    assert client.cookies.get("cw_csrf") != first_csrf
    with transaction(configured.database_url) as session:
        rows = session.query(UserSession).order_by(UserSession.id).all()
        assert [r.revoked_at is not None for r in rows] == [True, False]
    client.cookies.set("cw_session", first)
    assert not signed_in_now(client)


def test_disabling_a_person_ends_their_sessions(
    signed_in: Callable[[str], TestClient], configured: Settings
) -> None:
    client = signed_in(STAFF)
    with transaction(configured.database_url) as session:
        person = session.query(Person).filter_by(email=STAFF).one()
        person.active = False
        assert end_sessions_of(session, person.id) == 1
    assert not signed_in_now(client)
    with transaction(configured.database_url) as session:
        assert session.query(UserSession).one().revoked_at is not None


def test_cookie_names_and_flags_by_mode() -> None:
    dev = Settings(dev_mode=True, base_url="http://127.0.0.1:8000")
    assert (dev.cookie_prefix, dev.secure_cookies) == ("", False)
    live = Settings(
        dev_mode=False, secret_key=SecretStr("x" * 40), base_url="https://casework.example"
    )
    assert (live.cookie_prefix, live.secure_cookies) == ("__Host-", True)


def test_outside_dev_mode_cookies_are_host_only_and_secure(
    configured: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from api.app import create_app

    monkeypatch.setenv("CASEWORK_DEV_MODE", "false")
    monkeypatch.setenv("CASEWORK_SECRET_KEY", "a-long-random-secret-for-this-test-only")
    monkeypatch.setenv("CASEWORK_BASE_URL", "https://testserver")
    get_settings.cache_clear()
    with TestClient(create_app(), base_url="https://testserver") as client:
        page = client.get("/signin")
    cookie = page.headers["set-cookie"]
    assert cookie.startswith("__Host-cw_csrf=") and "Secure" in cookie and "Path=/" in cookie
    assert "Domain" not in cookie
