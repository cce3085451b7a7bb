"""The mail catcher's pages: every caught email readable, links clickable, dev mode only."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from core.settings import Settings
from mail.catcher import MailStore
from tests.support import csrf_of, production_app


def test_caught_mail_is_listed_and_readable_with_live_links(
    client: TestClient, deliver: Callable[[], int], smtp: tuple[MailStore, int]
) -> None:
    page = client.get("/signin")
    client.post(
        "/signin",
        data={"email": "dsl@oakfield.example", "next": "/", "csrf_token": csrf_of(page.text)},
    )
    deliver()
    listing = client.get("/dev/mail")
    assert listing.status_code == 200 and "Your link to sign in to Casework" in listing.text
    detail = client.get(f"/dev/mail/{smtp[0].ids()[0]}")
    assert detail.status_code == 200
    assert '<a href="http://testserver/signin/' in detail.text
    assert client.get("/dev/mail/..%2F..%2Fetc%2Fpasswd").status_code == 404
    assert client.get("/dev/mail/00000000000000000000-deadbeef").status_code == 404


def test_the_mail_catcher_pages_do_not_exist_outside_dev_mode(
    configured: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    with TestClient(production_app(monkeypatch)) as production:
        assert production.get("/dev/mail").status_code == 404
