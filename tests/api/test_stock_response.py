"""The school's stock response to parents: edited by the head or DSL, used in the emails."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from core.settings import Settings
from db.models import School
from db.session import transaction
from services.advice import stock_response_text
from tests.support import audit_kinds, csrf_of

OWN_WORDS = (
    "Thank you for your message. Staff at Oakfield keep personal accounts private; "
    "please ring the office on 01234 567890 and we will help."
)


def school_text(url: str) -> str:
    with transaction(url) as session:
        school = session.query(School).one()
        return stock_response_text(school)


def test_the_head_replaces_the_default_wording_and_can_go_back(
    signed_in: Callable[[str], TestClient], configured: Settings
) -> None:
    client = signed_in("head@oakfield.example")
    page = client.get("/admin/stock-response")
    assert page.status_code == 200 and "Casework's default wording" in page.text
    default = school_text(configured.database_url)
    assert "school office" in default
    short = client.post(
        "/admin/stock-response", data={"text": "No.", "csrf_token": csrf_of(page.text)}
    )
    assert short.status_code == 400 and "Write the reply in 20 to 3,000 characters." in short.text
    saved = client.post(
        "/admin/stock-response", data={"text": OWN_WORDS, "csrf_token": csrf_of(page.text)}
    )
    assert saved.status_code == 200 and "Saved." in saved.text
    assert school_text(configured.database_url) == OWN_WORDS
    client.post(
        "/admin/stock-response", data={"text": "", "reset": "1", "csrf_token": csrf_of(page.text)}
    )
    assert school_text(configured.database_url) == default
    assert (
        audit_kinds(configured.database_url, None).count(  # type: ignore[arg-type]
            "school.stock_response_changed"
        )
        == 2
    )


def test_staff_cannot_change_it(signed_in: Callable[[str], TestClient]) -> None:
    client = signed_in("tom.byrne@oakfield.example")
    assert client.get("/admin/stock-response").status_code == 403
