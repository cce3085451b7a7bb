"""A form that changes something is refused when the browser says another site sent it."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from core.settings import Settings
from db.models import Case
from tests.support import PNG, SQLITE_ONLY, count, csrf_of, report_fields

pytestmark = SQLITE_ONLY

STAFF = "amy.fletcher@oakfield.example"
REFUSED = "This request came from another website"


def report(client: TestClient, **headers: str) -> tuple[int, str]:
    """Send a good pupil-contact report with these extra headers on both of its POSTs: the
    form's, then the check page's "Send the report"."""
    form = client.get("/report/pupil_contact")
    answer = client.post(
        "/report/pupil_contact",
        data={**report_fields(), "csrf_token": csrf_of(form.text)},
        files=[("evidence", ("chat.png", PNG, "image/png"))],
        headers=headers,
        follow_redirects=False,
    )
    if answer.status_code == 303:
        check = answer.headers["location"]
        page = client.get(check)
        answer = client.post(
            check,
            data={"csrf_token": csrf_of(page.text)},
            headers=headers,
            follow_redirects=False,
        )
    return answer.status_code, answer.text


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "http://testserver.evil.example"},
        {"Origin": "null"},  # a sandboxed frame or a page opened from a file
        {"Referer": "https://evil.example/phish?next=/"},
        {"Origin": "https://evil.example", "Referer": "http://testserver/report"},
    ],
)
def test_a_report_sent_from_another_site_is_refused_and_opens_no_case(
    signed_in: Callable[[str], TestClient], configured: Settings, headers: dict[str, str]
) -> None:
    client = signed_in(STAFF)
    status, page = report(client, **headers)
    assert status == 403
    assert "The form could not be accepted" in page and REFUSED in page
    assert "open Casework at http://testserver and try again" in page
    assert count(configured.database_url, Case) == 0


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://testserver"},
        {"Origin": "HTTP://TESTSERVER:80"},
        {"Referer": "http://testserver/report/pupil_contact"},
        {},  # neither header: the CSRF token alone decides
    ],
)
def test_a_report_sent_from_casework_itself_opens_the_case(
    signed_in: Callable[[str], TestClient], configured: Settings, headers: dict[str, str]
) -> None:
    client = signed_in(STAFF)
    status, page = report(client, **headers)
    assert status == 303, page
    assert count(configured.database_url, Case) == 1


def test_signing_out_from_another_site_keeps_you_signed_in(
    signed_in: Callable[[str], TestClient],
) -> None:
    client = signed_in(STAFF)
    token = csrf_of(client.get("/").text)
    refused = client.post(
        "/signout", data={"csrf_token": token}, headers={"Origin": "https://evil.example"}
    )
    assert refused.status_code == 403 and REFUSED in refused.text
    assert "Amy Fletcher" in client.get("/").text, "still signed in"


def test_reading_pages_never_asks_where_the_link_was(
    signed_in: Callable[[str], TestClient],
) -> None:
    client = signed_in(STAFF)
    answer = client.get("/report", headers={"Referer": "https://mail.example/inbox"})
    assert answer.status_code == 200


def test_api_clients_are_told_in_json(signed_in: Callable[[str], TestClient]) -> None:
    client = signed_in(STAFF)
    answer = client.post(
        "/report/pupil_contact",
        headers={"Origin": "https://evil.example", "Accept": "application/json"},
        data=report_fields(),
    )
    assert answer.status_code == 403
    assert REFUSED in answer.json()["error"]["message"]
