"""Acting in end-to-end tests as the people in a case would, and reading what happened."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select

from core.enums import EmailKind
from core.rules import CONFIRMED_ANSWERS
from db.models import Approval, AuditEvent, CaseStatus, OutboxMessage, Person
from db.session import transaction
from mail.catcher import StoredMail
from tests.stack import Stack
from tests.support import (
    case_row,
    csrf_of,
    emailed_code,
    link_in,
    mail_to,
    signin,
    wait_until,
)

SKIP = ("email.", "case.viewed", "evidence.viewed", "pack.viewed")
# The answers that also need the code from a second email (the letter, the police).
CONFIRMED = frozenset(decision for _, decision in CONFIRMED_ANSWERS)


def report_as(
    stack: Stack, email: str, slug: str, fields: dict[str, Any], files: list[tuple[str, bytes, str]]
) -> tuple[int, str]:
    """Sign in as `email` and report; returns the case id and reference."""
    from tests.support import case_id_of, send_report

    with stack.client() as browser:
        signin(browser, email, stack.mail)
        answer = send_report(browser, slug, fields, files)
        assert answer.status_code == 303, answer.text
    case_id = case_id_of(answer)
    return case_id, case_row(stack.db_url, case_id).reference


def answer_link(
    stack: Stack, to: str, subject_part: str, answers: dict[str, str], expect: int = 200
) -> httpx.Response:
    """Open the newest emailed link about `subject_part` in a fresh browser and answer it.

    An answer that needs a confirmation code asks for one and types in the emailed code.
    """
    mail = mail_to(stack.mail, to, subject_part)
    link = next(link for link in mail.links if "/tasks/" in link or "/approvals/" in link)
    with httpx.Client(timeout=30) as browser:
        page = browser.get(link)
        assert page.status_code == 200, page.text
        if answers.get("decision") in CONFIRMED:
            answers = {**answers, "code": emailed_code(browser, link, page.text, stack.mail, to)}
        sent = browser.post(link, data={**answers, "csrf_token": csrf_of(page.text)})
    assert sent.status_code == expect, sent.text
    return sent


def page_of_link(mail: StoredMail) -> str:
    link = next(link for link in mail.links if "/tasks/" in link or "/approvals/" in link)
    return httpx.get(link, timeout=30).text


def trail(url: str, case_id: int) -> list[str]:
    """The case's audit events in order, with the step each concerns: 'kind:step'."""
    with transaction(url) as session:
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.case_id == case_id).order_by(AuditEvent.seq)
        )
        return [
            f"{e.kind}:{e.data['step']}" if "step" in e.data else e.kind
            for e in events
            if not e.kind.startswith(SKIP)
        ]


def assert_story(
    stack: Stack, case_id: int, events: list[str], emails: list[tuple[str, str]]
) -> None:
    """The case's audit trail and its emails are exactly these, in this order."""
    got = trail(stack.db_url, case_id)
    assert got == events, got
    sent = emails_of(stack.db_url, case_id)
    assert sent == emails, sent


def emails_of(url: str, case_id: int) -> list[tuple[str, str]]:
    """What the case queued, in order: (kind, recipient), letters to parents and
    confirmation codes left out."""
    with transaction(url) as session:
        rows = session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.case_id == case_id,
                OutboxMessage.kind.not_in([EmailKind.PARENT_LETTER, EmailKind.DECISION_CODE]),
            )
            .order_by(OutboxMessage.id)
        )
        return [(r.kind, r.to_addr) for r in rows]


def approvers(url: str, case_id: int) -> dict[str, str]:
    """Who each step's link went to."""
    with transaction(url) as session:
        rows = session.execute(
            select(Approval.step_key, Person.email)
            .join(Person, Person.id == Approval.approver_id)
            .where(Approval.case_id == case_id)
        )
        return {key: str(email) for key, email in rows}


def wait_closed(stack: Stack, case_id: int, timeout: float = 120) -> None:
    try:
        wait_until(
            lambda: case_row(stack.db_url, case_id).status == CaseStatus.CLOSED,
            timeout,
            0.5,
            f"case {case_id} to close",
        )
    except TimeoutError:
        print(stack.logs())
        raise


def path_of(link: str) -> str:
    return urlsplit(link).path


def person_id(url: str, email: str) -> int:
    with transaction(url) as session:
        found = session.scalars(select(Person.id).where(Person.email == email)).one()
        return int(found)


def step_outcomes(url: str, case_id: int) -> dict[str, str]:
    """What each step of the case recorded, as its page shows it."""
    from db.cases import steps_of

    with transaction(url) as session:
        return {s.key: s.outcome for s in steps_of(session, case_id)}


def mail_about(stack: Stack, ref: str) -> list[StoredMail]:
    """Every caught message whose subject names the case, in the order they arrived."""
    return [mail for mail in stack.mail.all() if ref in mail.subject]


def details_in(mail: StoredMail, *details: str) -> list[str]:
    """Which of `details` a message shows its reader, in its subject or either body."""
    shown = f"{mail.subject}\n{mail.text}\n{mail.html}"
    return [detail for detail in details if detail in shown]


def settle(seconds: float = 1.0) -> None:
    """Give a wrongly queued message the chance to appear before asserting it did not."""
    time.sleep(seconds)


__all__ = [
    "answer_link",
    "approvers",
    "assert_story",
    "details_in",
    "emails_of",
    "link_in",
    "mail_about",
    "page_of_link",
    "path_of",
    "person_id",
    "report_as",
    "settle",
    "step_outcomes",
    "trail",
    "wait_closed",
]
