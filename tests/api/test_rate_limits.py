"""Rate limits on sign-in requests, and on opening and answering emailed links."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from core.settings import Settings, get_settings
from db.models import OutboxMessage
from tests.support import SQLITE_ONLY, count, csrf_of, make_approval, make_case

pytestmark = SQLITE_ONLY


def limit(monkeypatch: pytest.MonkeyPatch, **limits: str) -> None:
    for name, value in limits.items():
        monkeypatch.setenv(f"CASEWORK_RATE_{name.upper()}", value)
    get_settings.cache_clear()


def ask(client: TestClient, email: str) -> int:
    page = client.get("/signin")
    answer = client.post(
        "/signin", data={"email": email, "next": "/", "csrf_token": csrf_of(page.text)}
    )
    if answer.status_code == 429:
        assert "Too many tries" in answer.text and int(answer.headers["Retry-After"]) > 0
    return answer.status_code


def test_forty_requests_for_one_address_send_at_most_five_emails(
    client: TestClient, configured: Settings
) -> None:
    statuses = [ask(client, "dsl@oakfield.example") for _ in range(40)]
    assert statuses[:5] == [200] * 5 and set(statuses[5:]) == {429}
    assert count(configured.database_url, OutboxMessage) == 5


def test_one_client_asking_for_many_addresses_is_limited(
    client: TestClient, configured: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    limit(monkeypatch, signin_per_ip="4/15minute")
    statuses = [ask(client, f"someone{n}@oakfield.example") for n in range(6)]
    assert statuses == [200] * 4 + [429] * 2


def test_sign_in_link_pages_are_limited(
    client: TestClient, configured: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    limit(monkeypatch, links_per_ip="3/minute")
    statuses = [client.get(f"/signin/guess{n}").status_code for n in range(5)]
    assert statuses == [410, 410, 410, 429, 429]


def test_decisions_on_emailed_links_are_limited(
    client: TestClient, configured: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    limit(monkeypatch, links_per_ip="3/minute")
    token = make_approval(configured.database_url, make_case(configured.database_url))
    page = client.get(f"/approvals/{token}")
    assert page.status_code == 200
    posted = [
        client.post(f"/approvals/{token}", data={"csrf_token": csrf_of(page.text)}).status_code
        for _ in range(3)
    ]
    assert posted[:2] == [400, 400] and posted[2] == 429


@pytest.mark.parametrize("kind", ["approvals", "tasks"])
def test_guessing_approval_and_task_links_is_limited(
    client: TestClient, configured: Settings, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    limit(monkeypatch, links_per_ip="3/minute")
    statuses = [client.get(f"/{kind}/guess{n}").status_code for n in range(5)]
    assert statuses == [404, 404, 404, 429, 429]
    refused = client.get(f"/{kind}/guess5")
    assert "Too many tries" in refused.text and "Nothing more was done" in refused.text
    assert int(refused.headers["Retry-After"]) > 0


def test_a_real_link_opened_too_often_is_limited_too(
    client: TestClient, configured: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    limit(monkeypatch, links_per_ip="2/minute")
    token = make_approval(configured.database_url, make_case(configured.database_url))
    statuses = [client.get(f"/approvals/{token}").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
