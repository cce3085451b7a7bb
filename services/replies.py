"""Answering a request by email: a reply to its secret address, read, checked and recorded.

A reply that says APPROVE, or REJECT with a reason, from the request's approver, to the
address of its live link, is recorded exactly as the link's form would record it: checked
by the step's own form, stored once through `services.requests.decide` (same audit event,
the link dies). The caller then resumes the run (`flows.trigger.deliver_decision`).
Anything else records nothing and, where that helps, gets a short answer through the
outbox saying what to write; at most `MOST_ANSWERS` an hour per request, so two mail robots
answering each other soon fall silent.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from core.enums import AuditKind, Decision, EmailKind, Via
from core.procedures import procedure_for
from core.rules import needs_confirmation
from core.settings import get_settings
from core.templating import render_email
from db.approvals import get_approval
from db.audit import record_event
from db.cases import get_case
from db.models import Approval, Person, utcnow
from db.outbox import dedup_key, queue_email, queued_since
from db.people import get_person
from db.schools import get_school
from db.session import Session
from forms.common import validate
from forms.registry import form_for_step
from forms.tasks import DecisionForm, reply_options
from services.notices import base_context
from services.reply_addresses import address_for, target_of
from services.requests import Answer, decide, no_longer_answerable

log = logging.getLogger("casework.replies")

MOST_ANSWERS = 3  # answers to replies about one request in ANSWERS_WINDOW
ANSWERS_WINDOW = timedelta(hours=1)
# The answers after which another reply could still be recorded: they carry the request's
# current reply address, so replying to them works.
TRY_AGAIN = frozenset({"unclear", "no_reason", "invalid", "replaced"})


@dataclass(frozen=True)
class IncomingReply:
    """A person's reply to a request's email, as read from the message."""

    recipient: str  # the reply address it was sent to
    sender: str  # the one address in From ("" when there was none, or several)
    verb: str  # "approve", "reject", or "" when the first line says neither
    reason: str = ""
    first_line: str = ""
    authenticated: bool = False  # our mail server confirmed From's domain (DMARC pass)
    message_id: str = ""


@dataclass(frozen=True)
class Handled:
    """What became of a reply, in words for the log."""

    note: str


def trusted_sender(reply: IncomingReply) -> bool:
    """Whether the reply can stand in for the emailed confirmation code.

    In dev mode with no trusted mail server configured there is nothing to check against,
    so the From address is taken as it is.
    """
    settings = get_settings()
    return reply.authenticated or (settings.dev_mode and not settings.reply_authserv_id)


def handle_reply(session: Session, reply: IncomingReply) -> Handled:
    """Record the reply's answer if it is one, or say what to write; see the module doc."""
    target = target_of(reply.recipient)
    approval = get_approval(session, target.approval_id) if target is not None else None
    if target is None or approval is None:
        return Handled("not one of our reply addresses")
    approver = get_person(session, approval.approver_id)
    from_approver = bool(approver.email) and reply.sender == (approver.email or "").lower()
    if from_approver and no_longer_answerable(session, approval) == "passed_on":
        # Whatever address they replied to: their account is disabled, or they may no longer
        # see the case, so the request now waits for someone else, and they learn nothing
        # more about the case.
        if approver.active:
            refuse(session, approval, reply, "the approver may no longer see the case")
            return tell_outsider(session, approval, reply, "no_access")
        refuse(session, approval, reply, "the approver's account has been disabled")
        return tell_outsider(session, approval, reply, "passed_on")
    if not target.current_for(approval):
        # An older link's address, or a guess: only the approver hears about it.
        if not from_approver:
            return Handled("an old or unknown reply address, not from the approver")
        if approval.decision is not None:
            return tell(session, approval, approver, "decided", reply, once="decided")
        return tell(session, approval, approver, "replaced", reply, once=approval.token_hash[:16])
    if not from_approver:
        refuse(session, approval, reply, "sent from an address other than the approver's")
        return tell_outsider(session, approval, reply, "stranger")
    return answer(session, approval, approver, reply)


def answer(session: Session, approval: Approval, approver: Person, reply: IncomingReply) -> Handled:
    """The approver's reply to the live address: record it, or say why not."""
    closed = no_longer_answerable(session, approval)
    if closed:
        return tell(session, approval, approver, closed, reply, once=closed)
    if approval.expires_at <= utcnow():
        return tell(session, approval, approver, "expired", reply, once="expired")
    options = reply_options(approval.step_key)
    if options is None or reply.verb not in ("approve", "reject"):
        return tell(session, approval, approver, "unclear", reply)
    if reply.verb == "reject" and not reply.reason:
        return tell(session, approval, approver, "no_reason", reply)
    chosen = options[0] if reply.verb == "approve" else options[1]
    values = {"decision": chosen.value, "reason": reply.reason if reply.verb == "reject" else ""}
    model, errors = validate(form_for_step(approval.step_key), values)
    if not isinstance(model, DecisionForm):  # only decisions have reply options
        problem = " ".join(errors.values())
        return tell(session, approval, approver, "invalid", reply, problem=problem)
    given = answer_of(model, reply)
    if needs_confirmation(approval.step_key, given.decision) and not trusted_sender(reply):
        refuse(session, approval, reply, "the sender's mail server did not confirm the address")
        return tell(session, approval, approver, "needs_link", reply)
    if not decide(session, approval, given, approver):  # answered or withdrawn meanwhile
        return tell(session, approval, approver, "settled", reply, once="settled")
    tell(session, approval, approver, "recorded", reply, once="recorded", summary=given.summary)
    return Handled(f"recorded {given.decision.value}")


def answer_of(model: DecisionForm, reply: IncomingReply) -> Answer:
    """The checked answer as it is stored, as the link's form stores it, marked as a reply."""
    return Answer(
        decision=Decision(model.decision),
        reason=model.reason,
        response=model.model_dump(),
        summary=model.summary(),
        user_agent=f"Email reply {reply.message_id}"[:400],
        via=Via.REPLY,
    )


def refuse(session: Session, approval: Approval, reply: IncomingReply, why: str) -> None:
    """Put a reply that was not recorded on the case's record, with who sent it."""
    record_event(
        session,
        case_id=approval.case_id,
        kind=AuditKind.REPLY_REFUSED,
        data={"step": approval.step_key, "from": reply.sender or "(no sender)", "why": why},
    )


def once_per_message(reply: IncomingReply) -> str:
    """A key part that is the same for one message delivered twice."""
    return hashlib.sha256(reply.message_id.encode()).hexdigest()[:24]


def answer_key(approval: Approval, why: str, once: str) -> str:
    """The dedup key of an answer about this request: one per (why, once)."""
    return dedup_key(EmailKind.REPLY_ANSWER, approval.id, why, once)


def too_many(session: Session, approval: Approval) -> bool:
    """Whether this request's replies have had as many answers as we send in an hour."""
    prefix = dedup_key(EmailKind.REPLY_ANSWER, approval.id, "")
    return queued_since(session, prefix, utcnow() - ANSWERS_WINDOW) >= MOST_ANSWERS


def tell(
    session: Session,
    approval: Approval,
    approver: Person,
    why: str,
    reply: IncomingReply,
    once: str = "",
    **extra: Any,
) -> Handled:
    """Queue the approver a short answer to their reply; `once` keys answers sent only once."""
    if why != "recorded" and too_many(session, approval):
        return Handled(f"{why}: not answered, {MOST_ANSWERS} answers already this hour")
    case = get_case(session, approval.case_id)
    email = render_email(
        f"emails/{EmailKind.REPLY_ANSWER}",
        **base_context(session, case),
        person=approver,
        why=why,
        step_title=procedure_for(case.incident_type).step(approval.step_key).title,
        approval=approval,
        first_line=reply.first_line[:200],
        **extra,
    )
    queue_email(
        session,
        dedup_key=dedup_key(
            EmailKind.REPLY_ANSWER, approval.id, why, once or once_per_message(reply)
        ),
        to=approver,
        email=email,
        kind=EmailKind.REPLY_ANSWER,
        case_id=case.id,
        reply_to=address_for(approval) if why in TRY_AGAIN else "",
    )
    return Handled(why)


def tell_outsider(session: Session, approval: Approval, reply: IncomingReply, why: str) -> Handled:
    """Tell someone who may not answer (`why`: "stranger", someone other than the approver;
    "passed_on", the approver whose account was disabled; "no_access", the approver who may
    no longer see the case) that their reply was not recorded, and nothing about the case,
    not even its reference."""
    if not reply.sender or too_many(session, approval):
        return Handled(f"{why}: not answered")
    case = get_case(session, approval.case_id)
    email = render_email(
        f"emails/{EmailKind.REPLY_ANSWER}", school=get_school(session, case.school_id), why=why
    )
    queue_email(
        session,
        dedup_key=dedup_key(EmailKind.REPLY_ANSWER, approval.id, why, once_per_message(reply)),
        to=reply.sender,
        email=email,
        kind=EmailKind.REPLY_ANSWER,
        case_id=case.id,
    )
    return Handled(f"{why}: told it was not recorded")
