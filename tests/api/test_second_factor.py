"""The second factor for elevated roles: enrolling an authenticator app, then its codes."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import httpx
import pyotp
import pytest
from fastapi.testclient import TestClient

from core.settings import Settings, get_settings
from db.models import TotpCredential, UserSession
from mail.catcher import MailStore
from tests.support import AUTHENTICATORS, count, csrf_of, first_step, second_factor

HEAD = "head@oakfield.example"
Mail = tuple[MailStore, int]


def send_code(client: TestClient, code: str) -> httpx.Response:
    page = client.get("/second-factor")
    return client.post(
        "/second-factor",
        data={"csrf_token": csrf_of(page.text), "code": code},
        follow_redirects=False,
    )


def wrong_code(secret: str) -> str:
    """A code the app does not show around now."""
    now = time.time()
    near = {pyotp.TOTP(secret).at(now, counter_offset=offset) for offset in range(-1, 3)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in near)


def test_enrolment_shows_the_secret_and_needs_a_right_code(
    client: TestClient, configured: Settings, smtp: Mail, deliver: Callable[[], int]
) -> None:
    done = first_step(client, HEAD, smtp[0], deliver)
    assert done.headers["location"] == "/second-factor"
    page = client.get("/second-factor")
    assert page.status_code == 200 and "Set up your authenticator app" in page.text
    secret = re.search(r'<code id="totp-secret">([A-Z2-7]+)</code>', page.text)
    assert secret and "otpauth://totp/" in page.text
    assert 'for="code"' in page.text  # the field has its label

    wrong = send_code(client, wrong_code(secret[1]))
    assert wrong.status_code == 400
    assert "That code is not right" in wrong.text
    assert "There is a problem" in wrong.text
    not_digits = send_code(client, "abc")
    assert "Enter the 6-digit code" in not_digits.text
    assert count(configured.database_url, UserSession) == 0

    from db.session import transaction

    with transaction(configured.database_url) as session:
        row = session.query(TotpCredential).one()
        assert secret[1] not in row.sealed_secret and row.confirmed_at is None

    finished = second_factor(client, HEAD, client.get("/second-factor"))
    assert finished.status_code == 303 and finished.headers["location"] == "/"
    assert "Helen Okafor" in client.get("/").text
    assert count(configured.database_url, UserSession) == 1


def test_an_enrolled_person_types_a_code_and_each_code_works_once(
    client: TestClient, configured: Settings, smtp: Mail, deliver: Callable[[], int]
) -> None:
    first_step(client, HEAD, smtp[0], deliver)
    second_factor(client, HEAD, client.get("/second-factor"))
    secret, used_step = AUTHENTICATORS[("http://testserver", HEAD)]

    first_step(client, HEAD, smtp[0], deliver)
    page = client.get("/second-factor")
    assert "Enter your code" in page.text and "totp-secret" not in page.text
    reused = send_code(client, pyotp.TOTP(secret).generate_otp(used_step))
    assert reused.status_code == 400
    assert "each code works once" in reused.text
    fresh = send_code(client, pyotp.TOTP(secret).generate_otp(used_step + 1))
    assert fresh.status_code == 303


def test_without_a_first_step_there_is_nothing_to_enter_a_code_for(client: TestClient) -> None:
    page = client.get("/second-factor")
    assert page.status_code == 410 and "Start again from the sign-in page" in page.text


def test_code_attempts_are_limited(
    client: TestClient,
    configured: Settings,
    smtp: Mail,
    deliver: Callable[[], int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CASEWORK_RATE_CODES_PER_PERSON", "3/5minute")
    get_settings.cache_clear()
    first_step(client, HEAD, smtp[0], deliver)
    answers = [send_code(client, "12345") for _ in range(4)]
    assert [a.status_code for a in answers[:3]] == [400, 400, 400]
    limited = answers[-1]
    assert limited.status_code == 429
    assert "Too many tries" in limited.text
    assert int(limited.headers["Retry-After"]) > 0
