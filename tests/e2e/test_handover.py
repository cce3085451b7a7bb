"""A head passes their decision to the deputy head, who makes it, and the procedure carries on:
on the real parts (web app, Prefect server and runner, worker, SMTP, database)."""

from __future__ import annotations

import httpx
import pytest

from db.models import CaseStatus
from tests.e2e.flow_helpers import (
    answer_link,
    approvers,
    person_id,
    report_as,
    trail,
    wait_closed,
)
from tests.stack import Stack
from tests.support import PNG, case_row, csrf_of, link_in, mail_to, report_fields, signin

pytestmark = pytest.mark.e2e

REPORTER = "amy.fletcher@oakfield.example"
HEAD = "head@oakfield.example"
DSL = "dsl@oakfield.example"
DEPUTY = "deputy@oakfield.example"
LETTER = "approve_parent_letter"
SCREENSHOT = [("messages.png", PNG + b"handover", "image/png")]


def head_passes_the_letter_on(stack: Stack, case_id: int) -> None:
    """The head, signed in, passes the waiting letter approval to the deputy head."""
    with stack.client() as head:
        signin(head, HEAD, stack.mail)
        page = head.get(f"/cases/{case_id}")
        assert "Pass this to someone else" in page.text
        sent = head.post(
            f"/cases/{case_id}/requests/{LETTER}/pass-on",
            data={
                "to": str(person_id(stack.db_url, DEPUTY)),
                "reason": "I am at a conference all week.",
                "csrf_token": csrf_of(page.text),
            },
            follow_redirects=True,
        )
    assert sent.status_code == 200 and "The request has been passed on." in sent.text


def test_a_delegated_approval_is_decided_by_the_deputy_and_the_case_goes_on(
    stack: Stack,
) -> None:
    case_id, ref = report_as(stack, REPORTER, "pupil_contact", report_fields(), SCREENSHOT)
    answer_link(
        stack,
        DSL,
        f"{ref}: please record – Record whether",
        {"pupil_persisted": "no", "reminder_given": "yes", "notes": "Reminded in class."},
    )
    answer_link(
        stack,
        DSL,
        f"{ref}: please record – Record the outcome",
        {"outcome": "mediation", "notes": "Talked it through."},
    )
    old_link = link_in(mail_to(stack.mail, HEAD, f"{ref}: your decision"), "/approvals/")

    head_passes_the_letter_on(stack, case_id)
    assert approvers(stack.db_url, case_id)[LETTER] == DEPUTY
    assert httpx.get(old_link, timeout=30).status_code == 410, "the head's link died"
    mail = mail_to(stack.mail, DEPUTY, f"{ref}: your decision")
    assert "Helen Okafor has passed this to you." in mail.text
    assert case_row(stack.db_url, case_id).status == CaseStatus.OPEN
    answer_link(
        stack,
        DEPUTY,
        f"{ref}: your decision",
        {"decision": "rejected", "reason": "Families had a letter on this last term."},
    )
    wait_closed(stack, case_id)

    assert "Families had a letter on this last term." in case_row(stack.db_url, case_id).outcome
    events = trail(stack.db_url, case_id)
    passed = events.index(f"request.delegated:{LETTER}")
    assert events[passed - 1] == f"approval.requested:{LETTER}"
    assert events[passed + 1 :] == [
        f"approval.decided:{LETTER}",
        f"step.completed:{LETTER}",
        "step.skipped:send_parent_letter",
        "case.closed",
        "step.completed:close_case",
    ]
