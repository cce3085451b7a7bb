"""Addresses typed into a report are checked: one that is not an address is sent back."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from core.rules import looks_like_email
from core.settings import Settings
from db.models import Case, OutboxMessage
from tests.support import PNG, SQLITE_ONLY, count, csrf_of, send_report

pytestmark = SQLITE_ONLY

STAFF = "amy.fletcher@oakfield.example"
PROBLEM = "Enter a valid email address, or leave it blank."


def abuse_report(email: str) -> dict[str, object]:
    return {
        "platform": "facebook",
        "occurred_at": "2026-11-20T18:30",
        "description": "A parent posted insulting comments about a teacher in a local group.",
        "sexual_images": "no",
        "target": "me",
        "links": "https://facebook.example/groups/local/posts/1",
        "content_kinds": ["threats"],
        "responsible": "parent",
        "responsible_name": "Pat Jones",
        "responsible_email": email,
        "still_online": "yes",
    }


@pytest.mark.parametrize(
    "typed",
    [
        "pat@family.example\r\nBcc: everyone@elsewhere.example",
        "pat@family.example\nBcc: everyone@elsewhere.example",
        "pat@family.example\rX-Injected: yes",
        "pat@family.example, other@family.example",
        "Pat Jones <pat@family.example>",
        "pat@family",
        "pat@@family.example",
        "pat\u00a0@family.example",
    ],
)
def test_an_address_that_is_not_one_address_is_sent_back_with_the_answers_kept(
    signed_in: Callable[[str], TestClient], configured: Settings, typed: str
) -> None:
    client = signed_in(STAFF)
    answer = send_report(
        client, "online_abuse", abuse_report(typed), [("post.png", PNG, "image/png")]
    )
    assert answer.status_code == 400, answer.text
    assert PROBLEM in answer.text
    assert "Pat Jones" in answer.text, "what was typed is not lost"
    assert count(configured.database_url, Case) == 0
    assert count(configured.database_url, OutboxMessage) == 1, "only the sign-in email"


def test_a_real_address_opens_the_case(
    signed_in: Callable[[str], TestClient], configured: Settings
) -> None:
    client = signed_in(STAFF)
    answer = send_report(
        client,
        "online_abuse",
        abuse_report("  pat.jones+school@family.example  "),
        [("post.png", PNG, "image/png")],
    )
    assert answer.status_code == 303, answer.text
    assert count(configured.database_url, Case) == 1


@pytest.mark.parametrize(
    "typed", ["head@oakfield.example\r\nBcc: everyone@elsewhere.example", "head@oakfield"]
)
def test_signing_in_with_something_that_is_not_an_address_is_explained(
    client: TestClient, configured: Settings, typed: str
) -> None:
    page = client.get("/signin")
    answer = client.post(
        "/signin", data={"email": typed, "next": "/", "csrf_token": csrf_of(page.text)}
    )
    assert answer.status_code == 400
    assert "Enter your school email address, like name@school.example." in answer.text
    assert count(configured.database_url, OutboxMessage) == 0, "no link was sent anywhere"


def test_the_shared_rule_takes_one_address_and_nothing_after_it() -> None:
    assert looks_like_email("pat.jones+school@family.example")
    for typed in ("pat@family.example\n", "pat@family.example\r", "pat@family.example\nx"):
        assert not looks_like_email(typed), repr(typed)
