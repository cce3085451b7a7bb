"""Procedure D end to end when the headteacher is the one reported."""

from __future__ import annotations

import pytest

from db.models import Person, Role
from db.session import transaction
from tests.e2e.flow_helpers import answer_link, approvers, emails_of, report_as, trail, wait_closed
from tests.stack import Stack
from tests.support import mail_to, signin

# Procedure logic does not depend on the database; the PostgreSQL stack runs procedure A
# end to end and every database test, which keeps `make test` within its time budget.
pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("stack", ["sqlite"], indirect=True)]

REPORTER = "tom.byrne@oakfield.example"
HEAD = "head@oakfield.example"
CHAIR = "chair@oakfield.example"
DSL = "dsl@oakfield.example"
HR = "hr@oakfield.example"


def person_id(url: str, email: str) -> int:
    with transaction(url) as session:
        return session.query(Person).filter_by(email=email).one().id


def test_the_chair_of_governors_does_every_head_step_when_the_head_is_reported(
    stack: Stack,
) -> None:
    fields = {
        "platform": "facebook",
        "occurred_at": "2026-11-18T21:00",
        "description": "Public posts by the head discussing a pupil's family by name.",
        "sexual_images": "no",
        "subject_id": str(person_id(stack.db_url, HEAD)),
        "concern_kind": "confidentiality",
        "child_at_risk": "no",
        "subject_account": "",
    }
    case_id, ref = report_as(stack, REPORTER, "staff_conduct", fields, [])
    opened = mail_to(stack.mail, CHAIR, f"New case {ref}")
    assert "Margaret Ellis" in opened.text
    answer_link(
        stack,
        CHAIR,
        f"{ref}: please record – Investigate",
        {
            "findings": "The posts were made and named the family.",
            "breach_found": "yes",
            "child_may_be_at_risk": "no",
        },
    )
    hr_notice = mail_to(stack.mail, HR, f"HR escalation: case {ref}")
    assert "/packs/hr" in hr_notice.text
    answer_link(
        stack,
        CHAIR,
        f"{ref}: please record – Record HR",
        {
            "advice": "Treat as potential gross misconduct; suspend pending a hearing.",
            "adviser": "Priya Shah",
        },
    )
    answer_link(
        stack,
        CHAIR,
        f"{ref}: your decision – Decide the outcome",
        {"decision": "formal_process", "reason": "HR advises a disciplinary hearing."},
    )
    wait_closed(stack, case_id)

    asked = approvers(stack.db_url, case_id)
    assert asked == {"investigate": CHAIR, "record_hr_advice": CHAIR, "staff_outcome": CHAIR}
    assert HEAD not in {to for _, to in emails_of(stack.db_url, case_id)}
    assert not [m for m in stack.mail.all() if HEAD in m.rcpt_tos and ref in m.subject]
    assert emails_of(stack.db_url, case_id) == [
        ("case_opened", CHAIR),
        ("advice", REPORTER),
        ("task_request", CHAIR),
        ("hr_escalation", HR),
        ("task_request", CHAIR),
        ("approval_request", CHAIR),
        ("case_closed", REPORTER),
        ("case_closed", DSL),
    ]
    assert trail(stack.db_url, case_id) == [
        "case.opened",
        "step.skipped:alert_dsl",
        "step.skipped:police_ceop_referral",
        "step.completed:notify_headteacher",
        "flow.started",
        "evidence.sealed",
        "step.completed:save_evidence",
        "step.completed:advise_staff",
        "task.requested:investigate",
        "task.completed:investigate",
        "step.completed:investigate",
        "step.skipped:safeguarding_review",
        "pack.produced",
        "step.completed:escalate_to_hr",
        "task.requested:record_hr_advice",
        "task.completed:record_hr_advice",
        "step.completed:record_hr_advice",
        "approval.requested:staff_outcome",
        "approval.decided:staff_outcome",
        "step.completed:staff_outcome",
        "case.closed",
        "step.completed:close_case",
    ]
    assert_who_sees_it(stack, case_id)


def assert_who_sees_it(stack: Stack, case_id: int) -> None:
    """The head cannot see a case about them; HR can once it is escalated; the chair can."""
    for email, status in (
        (HEAD, 404),
        (HR, 200),
        (CHAIR, 200),
        (DSL, 200),
        ("sara.novak@oakfield.example", 404),
    ):
        with stack.client() as browser:
            signin(browser, email, stack.mail)
            assert browser.get(f"/cases/{case_id}").status_code == status, email
            listed = f'/cases/{case_id}"' in browser.get("/").text
            assert listed == (status == 200), email
    with transaction(stack.db_url) as session:
        assert session.query(Person).filter_by(role=Role.CHAIR).count() == 1
