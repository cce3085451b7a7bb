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
    assert_story,
    details_in,
    mail_about,
    page_of_link,
    person_id,
    report_as,
    step_outcomes,
    trail,
    wait_closed,
)
from tests.stack import Stack
from tests.support import PNG, mail_to, signin

# Procedure logic does not depend on the database; the PostgreSQL stack runs procedure A
# end to end and every database test, which keeps `make test` within its time budget.
pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("stack", ["sqlite"], indirect=True)]

REPORTER = "amy.fletcher@oakfield.example"
HEAD = "head@oakfield.example"
DSL = "dsl@oakfield.example"
HR = "hr@oakfield.example"
COLLEAGUE = "sara.novak@oakfield.example"
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

    assert_story(stack, case_id, PUPIL_TRAIL, PUPIL_EMAILS)
    outcome = step_outcomes(stack.db_url, case_id)
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

    assert_story(stack, case_id, PARENT_TRAIL, PARENT_EMAILS)
    with stack.client() as head:
        signin(head, HEAD, stack.mail)
        pack = head.get(f"/cases/{case_id}/packs/police")
        assert pack.status_code == 200 and "Police referral pack" in pack.text
        assert hashlib.sha256(SCREENSHOT[0][1]).hexdigest() in pack.text
        # The pack is the one sent: the police gave their reference afterwards.
        assert "CR/2026/118842" not in pack.text
        assert "CR/2026/118842" in head.get(f"/cases/{case_id}").text
        pdf = head.get(f"/cases/{case_id}/packs/police.pdf")
        assert pdf.headers["content-type"] == "application/pdf"
        assert pdf.content.startswith(b"%PDF")
        printable = head.get(f"/cases/{case_id}/letters/meeting-invitation.pdf")
        assert printable.content.startswith(b"%PDF")
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
    reported = abuse()
    assert not details_in(question, reported["description"], reported["links"])
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
    outcome = step_outcomes(stack.db_url, case_id)
    assert outcome["platform_response"] == (
        "No response from the platform was recorded by the deadline."
    )
    assert approvers(stack.db_url, case_id)["helpline_escalation"] == DSL


def test_racist_content_the_head_refers_to_the_police_and_the_dsl_records_the_reference(
    stack: Stack,
) -> None:
    description = "An anonymous account keeps posting racist slurs under photos of me."
    case_id, ref = report_as(
        stack,
        REPORTER,
        "online_abuse",
        abuse(description=description, content_kinds=["racist", "sexual"]),
        SCREENSHOT,
    )
    report_to_platform(stack, ref, response="refused")
    question = mail_to(stack.mail, HEAD, f"{ref}: your decision – Headteacher decides whether")
    shown = page_of_link(question)
    assert "<li>Racist</li>" in shown and "<li>Sexual</li>" in shown, "what was reported"
    answer_link(
        stack,
        HEAD,
        f"{ref}: your decision – Headteacher decides whether",
        {"decision": "refer", "reason": "Racist abuse of a member of staff is a hate crime."},
    )
    task = mail_to(stack.mail, DSL, f"{ref}: please record – Send the police referral pack")
    shown = page_of_link(task)
    assert "The headteacher has decided to refer the case to the police" in shown
    assert 'name="police_reference"' in shown
    missing = answer_link(
        stack,
        DSL,
        f"{ref}: please record – Send the police referral pack",
        {"police_reference": "", "notes": ""},
        expect=400,
    )
    assert "Enter the police reference" in missing.text
    answer_link(
        stack,
        DSL,
        f"{ref}: please record – Send the police referral pack",
        {"police_reference": "CAD-4471-19NOV", "notes": "Spoke to the hate crime unit."},
    )
    finish(stack, ref)
    wait_closed(stack, case_id)

    assert_story(stack, case_id, REFER_TRAIL, REFER_EMAILS)
    assert approvers(stack.db_url, case_id)["police_decision"] == HEAD
    assert approvers(stack.db_url, case_id)["police_referral"] == DSL
    outcome = step_outcomes(stack.db_url, case_id)
    assert outcome["police_decision"] == (
        "Refer to the police. Reason: Racist abuse of a member of staff is a hate crime."
    )
    assert outcome["police_referral"] == (
        "Referral pack sent to the police; their reference: CAD-4471-19NOV."
    )
    for key in ("record_discipline", "escalate_to_hr", "staff_outcome", "invite_to_meeting"):
        assert outcome[key] == "Not needed: the person responsible is not known.", key
    for mail in mail_about(stack, ref):
        assert not details_in(mail, description, "racist", "CAD-4471"), mail.subject
    with stack.client() as dsl:
        signin(dsl, DSL, stack.mail)
        page = dsl.get(f"/cases/{case_id}").text
        assert "Police referral pack" in page and "HR case pack" not in page
        assert "Closed (resolved): The material is down and dealt with." in page
        pack = dsl.get(f"/cases/{case_id}/packs/police").text
        assert "Racist abuse of a member of staff is a hate crime." in pack
        assert "CAD-4471-19NOV" not in pack, "the pack is the one sent, before the reference"
        assert hashlib.sha256(SCREENSHOT[0][1]).hexdigest() in pack


def test_staff_perpetrator_goes_to_hr_before_the_head_decides_the_outcome(stack: Stack) -> None:
    description = "A colleague has been posting mocking comments about my teaching."
    colleague = person_id(stack.db_url, COLLEAGUE)
    case_id, ref = report_as(
        stack,
        REPORTER,
        "online_abuse",
        abuse(
            description=description,
            responsible="staff_member",
            responsible_staff_id=str(colleague),
        ),
        SCREENSHOT,
    )
    assert sees_case(stack, HR, case_id) == (404, False), "HR only once escalated"
    report_to_platform(stack, ref)
    notice = mail_to(stack.mail, HR, f"HR escalation: case {ref}")
    assert f"/cases/{case_id}/packs/hr" in notice.text
    assert not details_in(notice, description, "Sara Novak")
    answer_link(
        stack,
        HR,
        f"{ref}: please record – HR records its advice",
        {
            "advice": "An informal conversation and a written reminder of the policy.",
            "adviser": "Priya Shah",
        },
    )
    decision = mail_to(stack.mail, HEAD, f"{ref}: your decision – Headteacher decides the outcome")
    assert "An informal conversation and a written reminder" in page_of_link(decision)
    answer_link(
        stack,
        HEAD,
        f"{ref}: your decision – Headteacher decides the outcome",
        {"decision": "advice", "reason": "HR advises guidance rather than a formal process."},
    )
    finish(stack, ref)
    wait_closed(stack, case_id)

    assert_story(stack, case_id, STAFF_TRAIL, STAFF_EMAILS)
    asked_whom = approvers(stack.db_url, case_id)
    assert asked_whom["record_hr_advice"] == HR and asked_whom["staff_outcome"] == HEAD
    outcome = step_outcomes(stack.db_url, case_id)
    assert outcome["escalate_to_hr"] == "Escalated to Priya Shah (HR) with the case pack"
    assert outcome["record_hr_advice"] == (
        "HR's advice (Priya Shah): An informal conversation and a written reminder of the policy."
    )
    assert outcome["staff_outcome"] == (
        "Advice or guidance to the member of staff. "
        "Reason: HR advises guidance rather than a formal process."
    )
    for key in ("record_discipline", "invite_to_meeting", "record_meeting", "next_action"):
        assert outcome[key] == "Not needed: the person responsible is a member of staff.", key
    for mail in mail_about(stack, ref):
        assert not details_in(mail, description, "Sara Novak"), mail.subject
    assert sees_case(stack, COLLEAGUE, case_id) == (404, False), "never the person reported"
    with stack.client() as hr:
        signin(hr, HR, stack.mail)
        assert hr.get(f"/cases/{case_id}").status_code == 200
        pack = hr.get(f"/cases/{case_id}/packs/hr")
        assert pack.status_code == 200 and "HR case pack" in pack.text
        assert "Sara Novak" in pack.text, "the pack says who the case is about"
        assert hashlib.sha256(SCREENSHOT[0][1]).hexdigest() in pack.text


def sees_case(stack: Stack, email: str, case_id: int) -> tuple[int, bool]:
    """Signed in as `email`: the case page's status, and whether the case list shows it."""
    with stack.client() as browser:
        signin(browser, email, stack.mail)
        status = browser.get(f"/cases/{case_id}").status_code
        return status, f'/cases/{case_id}"' in browser.get("/").text


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
    ("case_opened", DSL),
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
    ("case_opened", DSL),
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
REFER_TRAIL = [
    *OPENING,
    *asked("task", "report_to_platform"),
    *asked("task", "platform_response"),
    *skipped("helpline_escalation"),
    *asked("approval", "police_decision"),
    "pack.produced",
    *asked("task", "police_referral"),
    *skipped(
        "record_discipline",
        "escalate_to_hr",
        "record_hr_advice",
        "staff_outcome",
        "invite_to_meeting",
        "record_meeting",
        "next_action",
    ),
    *NO_LETTER_END,
]
REFER_EMAILS = [
    ("case_opened", HEAD),
    ("case_opened", DSL),
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
STAFF_TRAIL = [
    *OPENING,
    *PLATFORM,
    *skipped("police_decision"),
    "pack.produced",
    "step.completed:escalate_to_hr",
    *asked("task", "record_hr_advice"),
    *asked("approval", "staff_outcome"),
    *skipped("record_discipline", "invite_to_meeting", "record_meeting", "next_action"),
    *skipped("police_referral"),
    *NO_LETTER_END,
]
STAFF_EMAILS = [
    ("case_opened", HEAD),
    ("case_opened", DSL),
    ("advice", REPORTER),
    DSL_Q,
    DSL_Q,
    ("hr_escalation", HR),
    ("task_request", HR),
    HEAD_Q,
    HEAD_Q,
    DSL_Q,
    ("case_closed", REPORTER),
    ("case_closed", DSL),
]
