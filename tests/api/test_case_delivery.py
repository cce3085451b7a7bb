"""The case page says which emails did not get through, and what the mail server said."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import update

from core.settings import Settings
from core.templating import RenderedEmail
from db.models import OutboxMessage, OutboxStatus
from db.outbox import queue_email
from db.session import transaction
from tests.support import make_case

NOTE = RenderedEmail("About case", "Please look at the case.", "<p>Please look at the case.</p>")


def queue_with_answer(url: str, case_id: int, to: str, status: OutboxStatus, answer: str) -> None:
    """A letter to one parent as the sender leaves it after the server's answer."""
    with transaction(url) as session:
        row = queue_email(
            session,
            dedup_key=f"t:{to}",
            to=to,
            email=NOTE,
            kind="parent_letter",
            case_id=case_id,
            audit=False,  # as letters are: one event for the letter, not one per parent
        )
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == row.id)
            .values(status=status, last_error=answer, attempts=3)
        )


def test_failed_and_deferred_mail_is_listed_with_the_answer(
    signed_in: Callable[[str], TestClient], configured: Settings
) -> None:
    url = configured.database_url
    case_id = make_case(url)
    head = signed_in("head@oakfield.example")  # first: signing in runs the sender
    queue_with_answer(
        url, case_id, "gone@families.example", OutboxStatus.FAILED, "550 5.1.1 No such mailbox"
    )
    queue_with_answer(
        url, case_id, "slow@families.example", OutboxStatus.PENDING, "451 4.3.0 Try again later"
    )
    queue_with_answer(url, case_id, "fine@families.example", OutboxStatus.SENT, "")

    page = head.get(f"/cases/{case_id}").text
    assert "Emails not delivered" in page
    assert "gone@families.example" in page and "550 5.1.1 No such mailbox" in page
    assert "slow@families.example" in page and "451 4.3.0 Try again later" in page
    assert "retrying" in page and "failed</span>" in page
    assert "fine@families.example" not in page


def test_addresses_are_hidden_from_those_who_do_not_keep_the_parent_list(
    signed_in: Callable[[str], TestClient], configured: Settings
) -> None:
    url = configured.database_url
    case_id = make_case(url)
    queue_with_answer(
        url, case_id, "gone@families.example", OutboxStatus.FAILED, "550 5.1.1 No such mailbox"
    )
    auditor = signed_in("auditor@oakfield.example")
    page = auditor.get(f"/cases/{case_id}")
    assert page.status_code == 200
    assert "550 5.1.1 No such mailbox" in page.text
    assert "gone@families.example" not in page.text and "(address hidden)" in page.text


def test_a_case_whose_mail_all_went_shows_no_problem_list(
    signed_in: Callable[[str], TestClient], configured: Settings
) -> None:
    url = configured.database_url
    case_id = make_case(url)
    queue_with_answer(url, case_id, "fine@families.example", OutboxStatus.SENT, "")
    page = signed_in("head@oakfield.example").get(f"/cases/{case_id}").text
    assert "Emails not delivered" not in page
