"""Procedure A's letter approved by replying to the email, on the real parts: SMTP into the
reply receiver process, the Prefect run resumed, the letter sent to every parent."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

import pytest

from tests.e2e.flow_helpers import wait_closed
from tests.e2e.test_pupil_contact import (
    HEAD,
    OPENING,
    approval_mail,
    assert_no_duplicate_mail,
    do_tasks,
    fifty_letters,
    open_case,
    step_trail,
)
from tests.stack import Stack
from tests.support import case_row, mail_to

# The receiver and the decision's path are tested on both databases without the stack
# (tests/casework/test_replies.py); one run here shows a reply moving a real flow on.
pytestmark = [pytest.mark.e2e, pytest.mark.parametrize("stack", ["sqlite"], indirect=True)]


def reply(stack: Stack, to: str, body: str) -> None:
    """The headteacher answers from their phone: a reply above the quoted email."""
    message = EmailMessage()
    message["From"] = f"Helen Okafor <{HEAD}>"
    message["To"] = to
    message["Subject"] = "Re: your decision"
    message.set_content(f"{body}\n\nSent from my iPhone\n\n> On 7 Dec 2026, Casework wrote:\n> …")
    with smtplib.SMTP("127.0.0.1", stack.replies_port) as server:
        server.send_message(message, from_addr=HEAD, to_addrs=[to])


def test_a_reply_approves_the_letter_and_the_procedure_carries_on(stack: Stack) -> None:
    case_id, _ = open_case(stack)
    ref = case_row(stack.db_url, case_id).reference
    do_tasks(stack, ref)
    request = approval_mail(stack, ref)
    address = str(request.message["Reply-To"])

    since = len(stack.mail.ids())
    reply(stack, address, "Yes please")
    unclear = mail_to(stack.mail, HEAD, f"{ref}: your reply was not recorded", since=since)
    assert "could not tell what you meant" in unclear.text
    assert case_row(stack.db_url, case_id).status == "open"

    since = len(stack.mail.ids())
    reply(stack, str(unclear.message["Reply-To"]), "Approved")
    wait_closed(stack, case_id)
    assert mail_to(stack.mail, HEAD, f"{ref}: your answer is recorded", since=since)
    assert len(fifty_letters(stack, case_id)) == 50
    assert step_trail(stack.db_url, case_id) == [
        *OPENING,
        "letter.sent",
        "step.completed",
        "case.closed",
        "step.completed",
    ]
    assert_no_duplicate_mail(stack, case_id, ref)
