"""Confirmation codes: the second step an answer that reaches outside the school needs.

An emailed link is the only thing a mail scanner needs to open a decision page and fill it
in. Approving the letter to every parent, or referring a case to the police, therefore also
needs a six-digit code that Casework emails to the approver in a second email, only when
they ask for it on the page. That email has no link, so nothing that merely follows links
and submits forms can act on it. Which answers need a code is `core.rules.needs_confirmation`.
"""

from __future__ import annotations

from datetime import timedelta

from core.enums import EmailKind
from core.procedures import procedure_for
from core.templating import render_email
from core.tokens import code_hash, new_code
from db.approvals import add_code, codes_sent_since, spend_code
from db.models import Approval, Case, Person, utcnow
from db.outbox import dedup_key, queue_email
from db.session import Session
from services.notices import base_context

CODE_MINUTES = 15
CODE_TTL = timedelta(minutes=CODE_MINUTES)
MOST_ATTEMPTS = 5  # wrong tries before a code stops working
MOST_CODES = 5  # codes one request may be sent in CODES_WINDOW
CODES_WINDOW = timedelta(hours=1)


def send_code(session: Session, case: Case, approval: Approval, person: Person) -> str:
    """Email the approver a new code; returns a problem in plain words, or "" when sent."""
    if codes_sent_since(session, approval.id, utcnow() - CODES_WINDOW) >= MOST_CODES:
        return (
            f"You have asked for {MOST_CODES} codes in the last hour, which is the most we "
            "send. Use the newest code you were sent, or ask again in an hour."
        )
    code = new_code()
    row = add_code(session, approval.id, code_hash(approval.id, code), CODE_TTL)
    email = render_email(
        f"emails/{EmailKind.DECISION_CODE}",
        **base_context(session, case),
        person=person,
        step_title=procedure_for(case.incident_type).step(approval.step_key).title,
        code=code,
        expires_at=row.expires_at,
        minutes=CODE_MINUTES,
    )
    queue_email(
        session,
        dedup_key=dedup_key(EmailKind.DECISION_CODE, approval.id, row.id),
        to=person,
        email=email,
        kind=EmailKind.DECISION_CODE,
        case_id=case.id,
        priority=1,
    )
    return ""


def check_code(session: Session, approval: Approval, typed: str) -> str:
    """ "" if `typed` is the request's live code (which is then used up), else why not."""
    typed = typed.strip().replace(" ", "")
    if not typed:
        return (
            "This answer needs a confirmation code. Press 'Email me a confirmation code', "
            "then type the 6-digit code from that email."
        )
    if len(typed) != 6 or not typed.isdigit():
        return "The confirmation code is 6 digits, for example 123456."
    result = spend_code(session, approval.id, code_hash(approval.id, typed), MOST_ATTEMPTS)
    if result == "ok":
        return ""
    if result == "wrong":
        return "That code is not right. Check the newest confirmation code email and try again."
    if result == "locked":
        return (
            "That code has been tried too many times and no longer works. "
            "Ask for a new code and use that one."
        )
    return (
        "There is no confirmation code waiting for this decision: codes work once and for "
        f"{CODE_MINUTES} minutes. Ask for a new code and use that one."
    )
