"""The parent directory page: the headteacher and the DSL import the MIS export there."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from core.settings import Settings
from db.models import Person, Role
from tests.support import count, csrf_of

GOOD = (
    b"Name,Email,Year groups,Preferred contact,Postal address\r\n"
    b"Ayesha Begum,ayesha.begum@example.com,Year 3,email,\r\n"
    b'Tomasz Nowak,,Reception,post,"4 Mill Road, Oakfield, OK1 3CD"\r\n'
)
BAD = GOOD + b"Kwame Mensah,x@,Year 4,email,\r\nLin Zhou,lin@example.com,Year 15,email,\r\n"


def parents(settings: Settings) -> int:
    return count(settings.database_url, Person, Person.role == Role.PARENT)


def import_id_of(page: str) -> str:
    found = re.search(r'name="import_id" value="([^"]+)"', page)
    assert found, "the page gives each import a reference for its progress bar"
    return found.group(1)


def post_file(client: TestClient, data: bytes, csrf: bool = True) -> tuple[Response, str]:
    """Upload as the page does; returns the answer and the import's progress reference."""
    page = client.get("/admin/parents")
    fields = {"csrf_token": csrf_of(page.text), "import_id": import_id_of(page.text)}
    if not csrf:
        del fields["csrf_token"]
    answer = client.post(
        "/admin/parents", data=fields, files={"file": ("parents.csv", data, "text/csv")}
    )
    return answer, fields["import_id"]


def upload(client: TestClient, data: bytes, csrf: bool = True) -> tuple[int, str]:
    answer, _ = post_file(client, data, csrf)
    return answer.status_code, answer.text


def test_the_headteacher_imports_and_sees_the_counts(
    signed_in: Callable[[str], TestClient], configured: Settings
) -> None:
    client = signed_in("head@oakfield.example")
    page = client.get("/admin/parents")
    assert page.status_code == 200
    assert "Casework knows <strong>50</strong> parents and carers" in page.text

    status, text = upload(client, GOOD)
    assert status == 200
    assert "Imported 2 parents and carers: 2 added, 0 updated, 0 unchanged." in text
    assert "Casework knows <strong>52</strong> parents and carers" in text
    assert "51 get letters by email and 1 by post" in text
    assert parents(configured) == 52

    status, text = upload(client, GOOD)
    assert "0 added, 0 updated, 2 unchanged" in text
    assert parents(configured) == 52


def test_a_bad_file_lists_each_bad_line_and_imports_nothing(
    signed_in: Callable[[str], TestClient], configured: Settings
) -> None:
    client = signed_in("dsl@oakfield.example")
    status, text = upload(client, BAD)
    assert status == 400
    assert "Nothing was imported" in text
    assert "Line 4: the email address &#39;x@&#39; is not valid." in text
    assert "Line 5: &#39;Year 15&#39; is not a year group" in text
    assert parents(configured) == 50


def test_an_upload_without_the_csrf_token_is_refused(
    signed_in: Callable[[str], TestClient], configured: Settings
) -> None:
    client = signed_in("head@oakfield.example")
    status, text = upload(client, GOOD, csrf=False)
    assert status == 403 and "This form has expired" in text
    assert parents(configured) == 50


@pytest.mark.parametrize("email", ["amy.fletcher@oakfield.example", "auditor@oakfield.example"])
def test_staff_who_are_not_head_or_dsl_are_refused(
    signed_in: Callable[[str], TestClient], configured: Settings, email: str
) -> None:
    client = signed_in(email)
    page = client.get("/admin/parents")
    assert page.status_code == 403
    assert "Only the headteacher, designated safeguarding lead or administrator" in page.text
    answer = client.post(
        "/admin/parents",
        data={"csrf_token": csrf_of(client.get("/").text)},
        files={"file": ("parents.csv", GOOD, "text/csv")},
    )
    assert answer.status_code == 403
    assert parents(configured) == 50


def test_visitors_are_sent_to_sign_in(client: TestClient) -> None:
    answer = client.get("/admin/parents", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/signin")


def progress_of(client: TestClient, import_id: str) -> tuple[int, dict[str, object]]:
    answer = client.get(
        f"/admin/parents/imports/{import_id}", headers={"Accept": "application/json"}
    )
    return answer.status_code, answer.json()


def test_the_progress_bar_reports_the_import_to_its_owner_only(
    signed_in: Callable[[str], TestClient], configured: Settings
) -> None:
    head = signed_in("head@oakfield.example")
    first = import_id_of(head.get("/admin/parents").text)
    assert first != import_id_of(head.get("/admin/parents").text), "one per page"
    assert progress_of(head, first)[0] == 404, "nothing is running under it"

    answer, import_id = post_file(head, GOOD)
    assert answer.status_code == 200
    assert progress_of(head, import_id) == (200, {"stage": "done", "done": 2, "total": 2})

    status, body = progress_of(signed_in("dsl@oakfield.example"), import_id)
    assert status == 404 and "no import with that reference" in str(body["error"])


def test_a_bad_file_ends_its_progress_as_failed(
    signed_in: Callable[[str], TestClient], configured: Settings
) -> None:
    client = signed_in("head@oakfield.example")
    answer, import_id = post_file(client, BAD)
    assert answer.status_code == 400
    status, body = progress_of(client, import_id)
    assert status == 200 and body["stage"] == "failed"
