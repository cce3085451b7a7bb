"""Procedure A end to end on the real parts: web app, Prefect server and runner, SMTP, database."""

from __future__ import annotations

import hashlib
import html
import re
import time
from collections import Counter

import httpx
import pytest
from sqlalchemy import select

from core.enums import StepKey
from db.models import Approval, CaseStatus, Evidence, OutboxMessage
from db.session import transaction
from flows.trigger import decision_input
from mail.catcher import StoredMail
from tests.e2e.flow_helpers import wait_closed
from tests.stack import Stack
from tests.support import (
    PDF,
    PNG,
    audit_kinds,
    case_id_of,
    case_row,
    count,
    csrf_of,
    emailed_code,
    link_in,
    mail_to,
    signin,
    submit_report,
    wait_until,
)

pytestmark = pytest.mark.e2e

REPORTER = "amy.fletcher@oakfield.example"
HEAD = "head@oakfield.example"
DSL = "dsl@oakfield.example"
UPLOADS = [
    ("first-contact.png", PNG + b"first", "image/png"),
    ("messages.pdf", PDF, "application/pdf"),
]
LETTER_SUBJECT = "Pupils and staff on social media"
# The head adds a line to the letter before approving it; every parent gets it.
THANKS = "Thank you for your support."
ADDED = "The school council chose kindness online as the theme for this term."


def open_case(stack: Stack) -> tuple[int, float]:
    """Report an incident as the staff member; returns the case id and submit time."""
    with stack.client() as staff:
        signin(staff, REPORTER, stack.mail)
        submitted = time.time()
        answer = submit_report(staff, UPLOADS)
        assert answer.status_code == 303, answer.text
        case_id = case_id_of(answer)
        page = staff.get(answer.headers["location"])
    assert "Report sent" in page.text and "What happens next" in page.text
    return case_id, submitted


def respond(link: str, answers: dict[str, str], expect: int = 200) -> httpx.Response:
    """Open an emailed link with a fresh browser (no session), then send its form."""
    with httpx.Client(timeout=30) as browser:
        page = browser.get(link)
        assert page.status_code == 200, page.text
        answer = browser.post(link, data={**answers, "csrf_token": csrf_of(page.text)})
    assert answer.status_code == expect, answer.text
    return answer


def do_tasks(stack: Stack, case_ref: str) -> None:
    first = mail_to(stack.mail, DSL, f"{case_ref}: please record – Record whether")
    assert "Jordan" not in first.raw, "task emails carry no pupil details"
    respond(
        link_in(first, "/tasks/"),
        {
            "pupil_persisted": "yes",
            "reminder_given": "yes",
            "notes": "Reminded at the end of the lesson.",
        },
    )
    second = mail_to(stack.mail, DSL, f"{case_ref}: please record – Record the outcome")
    respond(
        link_in(second, "/tasks/"),
        {"outcome": "mediation", "notes": "Restorative conversation with the pupil."},
    )


def approval_mail(stack: Stack, case_ref: str) -> StoredMail:
    mail = mail_to(stack.mail, HEAD, f"{case_ref}: your decision")
    assert "Jordan" not in mail.raw
    return mail


def letters(stack: Stack, case_id: int) -> list[StoredMail]:
    """The letters the SMTP server received for this case, matched by Message-ID."""
    ids = {m.message_id for m in outbox_of(stack.db_url, case_id, "parent_letter")}
    return [m for m in stack.mail.all() if m.message_id in ids]


def outbox_of(url: str, case_id: int, kind: str) -> list[OutboxMessage]:
    with transaction(url) as session:
        rows = list(
            session.scalars(
                select(OutboxMessage).where(
                    OutboxMessage.case_id == case_id, OutboxMessage.kind == kind
                )
            )
        )
        session.expunge_all()
        return rows


def fifty_letters(stack: Stack, case_id: int) -> list[StoredMail]:
    got = wait_until(
        lambda: (lambda found: found if len(found) >= 50 else None)(letters(stack, case_id)),
        60,
        0.5,
        "50 letters",
    )
    time.sleep(1)  # a duplicate would arrive right behind the last one
    return letters(stack, case_id) if got else []


def step_trail(url: str, case_id: int) -> list[str]:
    """The audit trail without deliveries, page views and restarts, which depend on timing."""
    return audit_kinds(
        url, case_id, skip=("email.", "case.viewed", "evidence.viewed", "flow.restarted")
    )


def assert_no_duplicate_mail(stack: Stack, case_id: int, case_ref: str) -> None:
    """No one got the same message about this case twice."""
    mine = letters(stack, case_id) + [m for m in stack.mail.all() if case_ref in m.subject]
    seen = Counter((tuple(m.rcpt_tos), m.subject) for m in mine)
    assert seen and max(seen.values()) == 1, [k for k, n in seen.items() if n > 1]


OPENING = [
    "case.opened",
    "evidence.saved",
    "evidence.saved",
    "step.skipped",
    "step.skipped",
    "step.completed",
    "flow.started",
    "evidence.sealed",
    "step.completed",
    "step.completed",
    "task.requested",
    "task.completed",
    "step.completed",
    "task.requested",
    "task.completed",
    "step.completed",
    "approval.requested",
    "approval.decided",
    "step.completed",
]


def test_approved_letter_goes_to_every_parent_individually(stack: Stack) -> None:
    case_id, submitted = open_case(stack)
    case = case_row(stack.db_url, case_id)
    first = mail_to(stack.mail, HEAD, f"New case {case.reference}")
    print(f"submit -> first email: {first.received_at.timestamp() - submitted:.2f}s")
    assert "Jordan" not in first.raw, "the headteacher's notification is content-free"
    advice = mail_to(stack.mail, REPORTER, f"{case.reference}: what to do now")
    assert "block" in advice.text and "privacy settings" in advice.text
    do_tasks(stack, case.reference)

    review = link_in(approval_mail(stack, case.reference), "/approvals/")
    with httpx.Client(timeout=30) as head:
        page = head.get(review)
        assert "50 parents and carers" in page.text and LETTER_SUBJECT in page.text
        shown = re.search(r'<textarea[^>]* id="wording"[^>]*>(.*?)</textarea>', page.text, re.S)
        assert shown, "the page offers the letter's wording to edit"
        wording = html.unescape(shown.group(1)).replace(THANKS, f"{ADDED}\n\n{THANKS}")
        code = emailed_code(head, review, page.text, stack.mail, HEAD)
        head.post(
            review,
            data={
                "decision": "approved",
                "reason": "",
                "wording": wording,
                "code": code,
                "csrf_token": csrf_of(page.text),
            },
        ).raise_for_status()
    wait_closed(stack, case_id)
    sent = fifty_letters(stack, case_id)

    assert len(sent) == 50
    assert all(ADDED in m.text and ADDED in m.html for m in sent), "the wording as approved"
    assert all(len(m.rcpt_tos) == 1 and m.to == m.rcpt_tos[0] for m in sent)
    assert len({m.rcpt_tos[0] for m in sent}) == 50
    assert "Jordan" not in sent[0].raw and "Amy" not in sent[0].raw
    run_id = case_row(stack.db_url, case_id).flow_run_id or ""
    wait_until(lambda: stack.flow_run_state(run_id) == "COMPLETED", 30, 0.5, "the run to end")
    assert stack.warm_process(), "the runs were forked from the runner's warm process"
    assert step_trail(stack.db_url, case_id) == [
        *OPENING[:-1],
        "letter.edited",
        "step.completed",
        "letter.sent",
        "step.completed",
        "case.closed",
        "step.completed",
    ]
    assert_no_duplicate_mail(stack, case_id, case.reference)
    stored = sorted((e.original_filename, e.sha256) for e in _evidence(stack.db_url, case_id))
    assert stored == sorted((name, hashlib.sha256(body).hexdigest()) for name, body, _ in UPLOADS)


def _evidence(url: str, case_id: int) -> list[Evidence]:
    with transaction(url) as session:
        rows = list(session.scalars(select(Evidence).where(Evidence.case_id == case_id)))
        session.expunge_all()
        return rows


def test_rejected_letter_closes_the_case_with_the_reason(stack: Stack) -> None:
    case_id, _ = open_case(stack)
    case = case_row(stack.db_url, case_id)
    do_tasks(stack, case.reference)
    review = link_in(approval_mail(stack, case.reference), "/approvals/")
    with httpx.Client(timeout=30) as head:
        page = head.get(review)
        refused = head.post(
            review, data={"decision": "rejected", "reason": "", "csrf_token": csrf_of(page.text)}
        )
        assert refused.status_code == 400 and "Give a reason" in refused.text
        head.post(
            review,
            data={
                "decision": "rejected",
                "csrf_token": csrf_of(page.text),
                "reason": "A letter went out about this last month.",
            },
        ).raise_for_status()
    wait_closed(stack, case_id)

    closed = case_row(stack.db_url, case_id)
    assert "A letter went out about this last month." in closed.outcome
    assert (
        count(
            stack.db_url,
            Approval,
            Approval.case_id == case_id,
            Approval.reason == "A letter went out about this last month.",
        )
        == 1
    )
    assert step_trail(stack.db_url, case_id) == [
        *OPENING,
        "step.skipped",
        "case.closed",
        "step.completed",
    ]
    assert outbox_of(stack.db_url, case_id, "parent_letter") == [], "no letter was queued"


def test_a_late_decision_on_another_step_cannot_wake_the_run(stack: Stack) -> None:
    """A decision read as due before the run moved on, and sent after, is refused."""
    case_id, _ = open_case(stack)
    case = case_row(stack.db_url, case_id)
    first = mail_to(stack.mail, DSL, f"{case.reference}: please record – Record whether")
    run_id = wait_until(lambda: case_row(stack.db_url, case_id).flow_run_id, 30)
    stack.wait_for_state(run_id, "PAUSED")

    late = decision_input(1, "approved", StepKey.APPROVE_PARENT_LETTER)
    answer = httpx.post(
        f"{stack.prefect_api}/flow_runs/{run_id}/resume", json={"run_input": late}, timeout=30
    )

    assert answer.json()["status"] == "REJECT", answer.text
    assert "does not match" in answer.json()["details"]["reason"], "refused for its step"
    assert stack.flow_run_state(run_id) == "PAUSED"
    respond(
        link_in(first, "/tasks/"),
        {"pupil_persisted": "yes", "reminder_given": "yes", "notes": ""},
    )
    mail_to(stack.mail, DSL, f"{case.reference}: please record – Record the outcome")


def test_runner_restart_while_waiting_for_approval(stack: Stack) -> None:
    case_id, _ = open_case(stack)
    case = case_row(stack.db_url, case_id)
    do_tasks(stack, case.reference)
    review = link_in(approval_mail(stack, case.reference), "/approvals/")
    run_id = wait_until(lambda: case_row(stack.db_url, case_id).flow_run_id, 30)
    stack.wait_for_state(run_id, "PAUSED")

    stack.stop_runner()
    with httpx.Client(timeout=30) as head:
        page = head.get(review)
        head.post(
            review,
            data={
                "decision": "approved",
                "reason": "Timely reminder.",
                "code": emailed_code(head, review, page.text, stack.mail, HEAD),
                "csrf_token": csrf_of(page.text),
            },
        ).raise_for_status()
    time.sleep(3)
    assert case_row(stack.db_url, case_id).status == CaseStatus.OPEN, (
        "nothing runs without a runner"
    )
    stack.start_runner()
    wait_closed(stack, case_id)

    trail = step_trail(stack.db_url, case_id)
    assert trail == [*OPENING, "letter.sent", "step.completed", "case.closed", "step.completed"]
    assert len(fifty_letters(stack, case_id)) == 50
    assert_no_duplicate_mail(stack, case_id, case.reference)
