"""Procedure B end to end: discretion advice, the stock response, the letter to parents."""

from __future__ import annotations

import pytest

from tests.e2e.flow_helpers import answer_link, emails_of, report_as, trail, wait_closed
from tests.stack import Stack
from tests.support import PNG, mail_to, wait_until

# Procedure logic does not depend on the database; the PostgreSQL stack runs procedure A
# end to end and every database test, which keeps `make test` within its time budget.
pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("stack", ["sqlite"], indirect=True)]

REPORTER = "sara.novak@oakfield.example"
HEAD = "head@oakfield.example"
DSL = "dsl@oakfield.example"


def test_parent_contact_runs_to_a_letter_for_every_parent(stack: Stack) -> None:
    fields = {
        "platform": "facebook",
        "occurred_at": "2026-11-21T19:40",
        "description": "A parent sent me a friend request and a message about homework.",
        "sexual_images": "no",
        "parent_name": "Chris Walsh",
        "child_year_group": "Year 4",
        "contact_kind": "friend_request",
        "responded": "no",
    }
    case_id, ref = report_as(
        stack, REPORTER, "parent_contact", fields, [("request.png", PNG + b"parent", "image/png")]
    )
    advice = mail_to(stack.mail, REPORTER, f"{ref}: what to do now")
    assert "precedent" in advice.text and "through the parent's account" in advice.text
    stock = mail_to(stack.mail, REPORTER, f"{ref}: a reply you can send")
    assert "school office" in stock.text and "Chris Walsh" not in stock.text
    answer_link(
        stack,
        HEAD,
        f"{ref}: your decision – Headteacher approves the letter",
        {"decision": "approved", "reason": ""},
    )
    wait_closed(stack, case_id)
    letters = wait_until(
        lambda: (lambda got: got if len(got) >= 50 else None)(
            [m for m in stack.mail.all() if m.subject.startswith("Parents and staff on social")]
        ),
        60,
        0.5,
        "50 letters",
    )
    assert len(letters) == 50 and all(len(m.rcpt_tos) == 1 for m in letters)
    assert "Chris Walsh" not in letters[0].raw and "Sara" not in letters[0].raw

    assert emails_of(stack.db_url, case_id) == [
        ("case_opened", HEAD),
        ("case_opened", DSL),
        ("advice", REPORTER),
        ("stock_response", REPORTER),
        ("approval_request", HEAD),
        ("case_closed", REPORTER),
        ("case_closed", DSL),
    ]
    assert trail(stack.db_url, case_id) == [
        "case.opened",
        "evidence.saved",
        "step.skipped:alert_dsl",
        "step.skipped:police_ceop_referral",
        "step.completed:notify_headteacher",
        "flow.started",
        "evidence.sealed",
        "step.completed:save_evidence",
        "step.completed:advise_staff",
        "step.completed:send_stock_response",
        "approval.requested:approve_parent_letter",
        "approval.decided:approve_parent_letter",
        "step.completed:approve_parent_letter",
        "letter.sent",
        "step.completed:send_parent_letter",
        "case.closed",
        "step.completed:close_case",
    ]
