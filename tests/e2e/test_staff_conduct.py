"""Procedure D end to end: the head reported, and a child who may be at risk."""

from __future__ import annotations

import pytest

from db.models import Person, Role
from db.session import transaction
from tests.e2e.flow_helpers import (
    answer_link,
    approvers,
    details_in,
    emails_of,
    mail_about,
    page_of_link,
    person_id,
    report_as,
    step_outcomes,
    trail,
    wait_closed,
)
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
COLLEAGUE = "sara.novak@oakfield.example"


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
        HR,
        f"{ref}: please record – HR records its advice",
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
    assert asked == {"investigate": CHAIR, "record_hr_advice": HR, "staff_outcome": CHAIR}
    assert HEAD not in {to for _, to in emails_of(stack.db_url, case_id)}
    assert not [m for m in stack.mail.all() if HEAD in m.rcpt_tos and ref in m.subject]
    assert emails_of(stack.db_url, case_id) == [
        ("case_opened", CHAIR),
        ("case_opened", DSL),
        ("advice", REPORTER),
        ("task_request", CHAIR),
        ("hr_escalation", HR),
        ("task_request", HR),
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


def risk_report(stack: Stack, child_at_risk: str, description: str) -> tuple[int, str]:
    fields = {
        "platform": "instagram",
        "occurred_at": "2026-11-22T23:40",
        "description": description,
        "sexual_images": "no",
        "subject_id": str(person_id(stack.db_url, COLLEAGUE)),
        "concern_kind": "contact_with_pupils",
        "child_at_risk": child_at_risk,
        "subject_account": "",
    }
    return report_as(stack, REPORTER, "staff_conduct", fields, [])


def investigate(stack: Stack, ref: str, child_may_be_at_risk: str) -> None:
    answer_link(
        stack,
        HEAD,
        f"{ref}: please record – Investigate",
        {
            "findings": "The messages were sent late at night from a private account.",
            "breach_found": "yes",
            "child_may_be_at_risk": child_may_be_at_risk,
        },
    )


def review_risk(stack: Stack, ref: str) -> None:
    """The DSL's safeguarding review, after checking the page asks about the LADO."""
    review = mail_to(stack.mail, DSL, f"{ref}: please record – Safeguarding lead reviews")
    assert "local authority designated officer (LADO)" in page_of_link(review)
    answer_link(
        stack,
        DSL,
        f"{ref}: please record – Safeguarding lead reviews",
        {
            "actions": "Spoke to the pupil and their parents; the LADO was told the same day.",
            "referred_externally": "yes",
        },
    )


def hr_then_outcome(stack: Stack, ref: str, decision: str, reason: str) -> None:
    mail_to(stack.mail, HR, f"HR escalation: case {ref}")
    answer_link(
        stack,
        HR,
        f"{ref}: please record – HR records its advice",
        {"advice": "Suspend pending a disciplinary hearing.", "adviser": "Priya Shah"},
    )
    answer_link(
        stack,
        HEAD,
        f"{ref}: your decision – Decide the outcome",
        {"decision": decision, "reason": reason},
    )


def test_a_child_at_risk_in_the_report_goes_to_the_dsl_before_the_investigation(
    stack: Stack,
) -> None:
    description = "Private messages to a Year 8 pupil sent after midnight."
    case_id, ref = risk_report(stack, "yes", description)
    alert = mail_to(stack.mail, DSL, f"Safeguarding: a child may be at risk (case {ref})")
    assert f"/cases/{case_id}" in alert.text
    mail_to(stack.mail, DSL, f"{ref}: please record – Safeguarding lead reviews")
    assert approvers(stack.db_url, case_id) == {"safeguarding_review": DSL}, (
        "nobody else is asked anything until the DSL has reviewed the risk"
    )
    review_risk(stack, ref)
    investigate(stack, ref, child_may_be_at_risk="yes")
    hr_then_outcome(stack, ref, "formal_process", "HR advises a disciplinary hearing.")
    wait_closed(stack, case_id)

    got = trail(stack.db_url, case_id)
    assert got == [
        *OPENING,
        "dsl.alerted",
        "safeguarding.opened",
        *asked("task", "safeguarding_review"),
        *asked("task", "investigate"),
        *HR_AND_OUTCOME,
    ]
    assert emails_of(stack.db_url, case_id) == [
        ("case_opened", HEAD),
        ("case_opened", DSL),
        ("advice", REPORTER),
        ("risk_alert", DSL),
        ("task_request", DSL),
        ("task_request", HEAD),
        *HR_AND_OUTCOME_EMAILS,
    ]
    assert approvers(stack.db_url, case_id) == {
        "safeguarding_review": DSL,
        "investigate": HEAD,
        "record_hr_advice": HR,
        "staff_outcome": HEAD,
    }
    page = assert_risk_handled(
        stack, case_id, ref, description, "The report says a child may be at risk."
    )
    assert "Outcome: formal process. HR advises a disciplinary hearing." in page


def test_a_child_at_risk_found_by_the_investigation_goes_to_the_dsl_before_hr(
    stack: Stack,
) -> None:
    description = "Photos of pupils on a personal account, with comments about them."
    case_id, ref = risk_report(stack, "no", description)
    investigate(stack, ref, child_may_be_at_risk="yes")
    mail_to(stack.mail, DSL, f"Safeguarding: a child may be at risk (case {ref})")
    review_risk(stack, ref)
    hr_then_outcome(stack, ref, "advice", "HR advises guidance on the policy.")
    wait_closed(stack, case_id)

    got = trail(stack.db_url, case_id)
    assert got == [
        *OPENING,
        *asked("task", "investigate"),
        "dsl.alerted",
        "safeguarding.opened",
        *asked("task", "safeguarding_review"),
        *HR_AND_OUTCOME,
    ]
    assert emails_of(stack.db_url, case_id) == [
        ("case_opened", HEAD),
        ("case_opened", DSL),
        ("advice", REPORTER),
        ("task_request", HEAD),
        ("risk_alert", DSL),
        ("task_request", DSL),
        *HR_AND_OUTCOME_EMAILS,
    ]
    page = assert_risk_handled(
        stack, case_id, ref, description, "The investigation found a child may be at risk."
    )
    assert "Outcome: advice. HR advises guidance on the policy." in page


def assert_risk_handled(stack: Stack, case_id: int, ref: str, description: str, why: str) -> str:
    """One alert, no case details in any email, the review and the reason on the case.

    Returns the case page as the DSL sees it.
    """
    alerts = [m for m in mail_about(stack, ref) if m.subject.startswith("Safeguarding:")]
    assert [m.rcpt_tos for m in alerts] == [[DSL]], "the DSL is alerted once"
    for mail in mail_about(stack, ref):
        assert not details_in(mail, description, "Sara Novak"), mail.subject
    outcome = step_outcomes(stack.db_url, case_id)
    assert outcome["safeguarding_review"] == (
        "Spoke to the pupil and their parents; the LADO was told the same day. "
        "Referred outside the school."
    )
    assert outcome["escalate_to_hr"] == "Escalated to Priya Shah (HR) with the case pack"
    with stack.client() as dsl:
        signin(dsl, DSL, stack.mail)
        page = dsl.get(f"/cases/{case_id}").text
    assert why in page, "the timeline says why the DSL was alerted"
    return page


OPENING = [
    "case.opened",
    "step.skipped:alert_dsl",
    "step.skipped:police_ceop_referral",
    "step.completed:notify_headteacher",
    "flow.started",
    "evidence.sealed",
    "step.completed:save_evidence",
    "step.completed:advise_staff",
]


def asked(kind: str, step: str) -> list[str]:
    """A person asked for a step and answering it: requested, decided, step completed."""
    done = "approval.decided" if kind == "approval" else "task.completed"
    return [f"{kind}.requested:{step}", f"{done}:{step}", f"step.completed:{step}"]


HR_AND_OUTCOME = [
    "pack.produced",
    "step.completed:escalate_to_hr",
    *asked("task", "record_hr_advice"),
    *asked("approval", "staff_outcome"),
    "case.closed",
    "step.completed:close_case",
]
HR_AND_OUTCOME_EMAILS = [
    ("hr_escalation", HR),
    ("task_request", HR),
    ("approval_request", HEAD),
    ("case_closed", REPORTER),
    ("case_closed", DSL),
]
