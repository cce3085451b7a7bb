"""Procedure C end to end, one test per branch the procedure names."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from db.models import Approval
from db.session import transaction
from tests.e2e.flow_helpers import (
    answer_link,
    approvers,
    emails_of,
    report_as,
    trail,
    wait_closed,
)
from tests.stack import Stack
from tests.support import PNG, mail_to

# Procedure logic does not depend on the database; the PostgreSQL stack runs procedure A
# end to end and every database test, which keeps `make test` within its time budget.
pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("stack", ["sqlite"], indirect=True)]

REPORTER = "amy.fletcher@oakfield.example"
HEAD = "head@oakfield.example"
DSL = "dsl@oakfield.example"
SCREENSHOT = [("post.png", PNG + b"abuse", "image/png")]


def abuse(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "platform": "instagram",
        "occurred_at": "2026-11-19T20:15",
        "description": "An account posted a photo of me with abusive comments underneath.",
        "sexual_images": "no",
        "target": "me",
        "links": "https://instagram.example/p/abc123",
        "content_kinds": ["other"],
        "responsible": "unknown",
        "still_online": "yes",
    }
    fields.update(overrides)
    return fields


def report_to_platform(stack: Stack, ref: str, response: str | None = "removed") -> None:
    """Step 2 as the case lead: report with the ready-made text, then record the answer."""
    mail = mail_to(stack.mail, DSL, f"{ref}: please record – Report the material")
    link = next(link for link in mail.links if "/tasks/" in link)
    page = httpx.get(link, timeout=30).text
    assert "Instagram" in page and "Community Guidelines" in page, "the ready-to-use report"
    assert "https://instagram.example/p/abc123" in page
    answer_link(
        stack,
        DSL,
        f"{ref}: please record – Report the material",
        {"platform_reference": "IG-558120", "notes": ""},
    )
    if response is not None:
        answer_link(
            stack,
            DSL,
            f"{ref}: please record – Record the platform",
            {"response": response, "notes": ""},
        )


def finish(stack: Stack, ref: str, letter: str = "rejected") -> None:
    """The ending every branch shares: the optional letter, then the resolution."""
    answers = {
        "decision": letter,
        "reason": ""
        if letter == "approved"
        else "Only a few families could have seen it; a letter would spread it further.",
    }
    answer_link(stack, HEAD, f"{ref}: your decision – Headteacher approves the letter", answers)
    answer_link(
        stack,
        DSL,
        f"{ref}: please record – Record how the case",
        {"resolution": "resolved", "reason": "The material is down and dealt with."},
    )


def test_pupil_perpetrator_with_hate_crime_goes_to_police_decision_and_discipline(
    stack: Stack,
) -> None:
    case_id, ref = report_as(
        stack,
        REPORTER,
        "online_abuse",
        abuse(
            content_kinds=["hate_crime", "threats"],
            responsible="current_pupil",
            responsible_name="Riley Stone",
        ),
        SCREENSHOT,
    )
    advice = mail_to(stack.mail, REPORTER, f"{ref}: what to do now")
    assert "Do not reply, retaliate" in advice.text
    report_to_platform(stack, ref)
    refused = answer_link(
        stack,
        HEAD,
        f"{ref}: your decision – Headteacher decides whether",
        {"decision": "not_refer", "reason": ""},
        expect=400,
    )
    assert "Give a reason" in refused.text
    answer_link(
        stack,
        HEAD,
        f"{ref}: your decision – Headteacher decides whether",
        {
            "decision": "not_refer",
            "reason": "The pupil is 12; the family and school are dealing with it.",
        },
    )
    answer_link(
        stack,
        DSL,
        f"{ref}: please record – Record the outcome of mediation",
        {"outcome": "sanction", "notes": "Fixed-term exclusion and restorative work."},
    )
    finish(stack, ref)
    wait_closed(stack, case_id)

    got = trail(stack.db_url, case_id)
    print("TRAIL", got)
    print("EMAILS", emails_of(stack.db_url, case_id))
    assert got == PUPIL_TRAIL
    assert emails_of(stack.db_url, case_id) == PUPIL_EMAILS
    outcome = {s: o for s, o in step_outcomes(stack.db_url, case_id)}
    assert outcome["police_decision"].startswith("Do not refer to the police. Reason: The pupil")


def test_parent_perpetrator_meeting_fails_then_police_referral(stack: Stack) -> None:
    case_id, ref = report_as(
        stack,
        REPORTER,
        "online_abuse",
        abuse(
            content_kinds=["threats"],
            responsible="parent",
            responsible_name="Pat Morgan",
            responsible_email="pat.morgan@families.example",
        ),
        SCREENSHOT,
    )
    report_to_platform(stack, ref, response="refused")
    invitation = mail_to(stack.mail, "pat.morgan@families.example", "An invitation to meet")
    assert invitation.rcpt_tos == ["pat.morgan@families.example"]
    assert "Dear Pat Morgan" in invitation.text
    answer_link(
        stack,
        DSL,
        f"{ref}: please record – Record the meeting",
        {
            "held": "yes",
            "concerns_heard": "yes",
            "asked_to_remove": "yes",
            "agreed": "no",
            "notes": "Heard about the lunchtime concern; refused to take the post down.",
        },
    )
    answer_link(
        stack,
        HEAD,
        f"{ref}: your decision – Headteacher decides further action",
        {"decision": "police", "reason": "Threats to a member of staff continue."},
    )
    answer_link(
        stack,
        DSL,
        f"{ref}: please record – Send the police referral pack",
        {"police_reference": "CR/2026/118842", "notes": ""},
    )
    finish(stack, ref, letter="approved")
    wait_closed(stack, case_id)

    got = trail(stack.db_url, case_id)
    print("TRAIL", got)
    print("EMAILS", emails_of(stack.db_url, case_id))
    assert got == PARENT_TRAIL
    assert emails_of(stack.db_url, case_id) == PARENT_EMAILS
    with stack.client() as head:
        from tests.support import signin

        signin(head, HEAD, stack.mail)
        pack = head.get(f"/cases/{case_id}/packs/police")
        assert pack.status_code == 200 and "Police referral pack" in pack.text
        assert hashlib.sha256(SCREENSHOT[0][1]).hexdigest() in pack.text
        assert "CR/2026/118842" in pack.text
        pdf = head.get(f"/cases/{case_id}/packs/police.pdf")
        assert pdf.headers["content-type"] == "application/pdf"
        assert pdf.content.startswith(b"%PDF")
        invitation = head.get(f"/cases/{case_id}/letters/meeting-invitation.pdf")
        assert invitation.content.startswith(b"%PDF")
        assert "Meeting invitation" in head.get(f"/cases/{case_id}").text


def test_no_platform_response_in_48_hours_asks_about_the_helpline(stack: Stack) -> None:
    case_id, ref = report_as(stack, REPORTER, "online_abuse", abuse(), SCREENSHOT)
    report_to_platform(stack, ref, response=None)
    mail_to(stack.mail, DSL, f"{ref}: please record – Record the platform")
    # Two days pass: move the deadline into the past rather than sleeping.
    with transaction(stack.db_url) as session:
        session.execute(
            update(Approval)
            .where(Approval.case_id == case_id, Approval.step_key == "platform_response")
            .values(expires_at=Approval.requested_at)
        )
    question = mail_to(stack.mail, DSL, f"{ref}: please record – Decide whether to escalate")
    assert "Jordan" not in question.raw
    answer_link(
        stack,
        DSL,
        f"{ref}: please record – Decide whether to escalate",
        {"escalate": "yes", "notes": "Instagram has not acted on a threat to staff."},
    )
    finish(stack, ref)
    wait_closed(stack, case_id)

    got = trail(stack.db_url, case_id)
    print("TRAIL", got)
    assert got == HELPLINE_TRAIL
    outcome = {s: o for s, o in step_outcomes(stack.db_url, case_id)}
    assert outcome["platform_response"] == (
        "No response from the platform was recorded by the deadline."
    )
    assert approvers(stack.db_url, case_id)["helpline_escalation"] == DSL


def step_outcomes(url: str, case_id: int) -> list[tuple[str, str]]:
    from db.cases import steps_of

    with transaction(url) as session:
        return [(s.key, s.outcome) for s in steps_of(session, case_id)]


OPENING = [
    "case.opened",
    "evidence.saved",
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


def skipped(*steps: str) -> list[str]:
    return [f"step.skipped:{step}" for step in steps]


PLATFORM = [
    *asked("task", "report_to_platform"),
    *asked("task", "platform_response"),
    *skipped("helpline_escalation"),
]
NO_LETTER_END = [
    *asked("approval", "approve_parent_letter"),
    *skipped("send_parent_letter"),
    *asked("task", "record_resolution"),
    "case.closed",
    "step.completed:close_case",
]
PUPIL_TRAIL = [
    *OPENING,
    *PLATFORM,
    *asked("approval", "police_decision"),
    *asked("task", "record_discipline"),
    *skipped(
        "escalate_to_hr",
        "record_hr_advice",
        "staff_outcome",
        "invite_to_meeting",
        "record_meeting",
        "next_action",
        "police_referral",
    ),
    *NO_LETTER_END,
]
HEAD_Q, DSL_Q = ("approval_request", HEAD), ("task_request", DSL)
PUPIL_EMAILS = [
    ("case_opened", HEAD),
    ("advice", REPORTER),
    DSL_Q,
    DSL_Q,
    HEAD_Q,
    DSL_Q,
    HEAD_Q,
    DSL_Q,
    ("case_closed", REPORTER),
    ("case_closed", DSL),
]
PARENT_TRAIL = [
    *OPENING,
    *PLATFORM,
    *skipped("police_decision"),
    "step.completed:invite_to_meeting",
    *asked("task", "record_meeting"),
    *asked("approval", "next_action"),
    "pack.produced",
    *asked("task", "police_referral"),
    *skipped("record_discipline", "escalate_to_hr", "record_hr_advice", "staff_outcome"),
    *asked("approval", "approve_parent_letter"),
    "letter.sent",
    "step.completed:send_parent_letter",
    *asked("task", "record_resolution"),
    "case.closed",
    "step.completed:close_case",
]
PARENT_EMAILS = [
    ("case_opened", HEAD),
    ("advice", REPORTER),
    DSL_Q,
    DSL_Q,
    ("meeting_invitation", "pat.morgan@families.example"),
    DSL_Q,
    HEAD_Q,
    DSL_Q,
    HEAD_Q,
    DSL_Q,
    ("case_closed", REPORTER),
    ("case_closed", DSL),
]
HELPLINE_TRAIL = [
    *OPENING,
    *asked("task", "report_to_platform"),
    "task.requested:platform_response",
    "deadline.passed:platform_response",
    "step.completed:platform_response",
    *asked("task", "helpline_escalation"),
    *skipped(
        "police_decision",
        "record_discipline",
        "escalate_to_hr",
        "record_hr_advice",
        "staff_outcome",
        "invite_to_meeting",
        "record_meeting",
        "next_action",
        "police_referral",
    ),
    *NO_LETTER_END,
]
