"""Requests to a person: a task outcome or a decision, asked once by a single-use link.

Every way an answer arrives (the emailed link's form, Casework recording a missed deadline)
goes through `decide`, which stores it exactly once and completes the step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from core.enums import ApprovalKind, AuditKind, Decision, EmailKind, HandOver, StepKey, Via
from core.procedures import DEADLINE_STEPS, StepKind, procedure_for
from core.settings import get_settings
from core.templating import render_email
from db.approvals import claim_decision, for_step, note_hand_over, open_request, renew_token
from db.audit import first_for_step, record_event
from db.cases import finish_step, get_case, mark_waiting
from db.models import Approval, Case, CaseStatus, Person
from db.outbox import dedup_key, queue_email
from db.people import NobodyInRole, get_person
from db.session import Session
from services.holders import responsible_for, stand_in, unheld
from services.notices import action_link, base_context
from services.reply_addresses import address_for


@dataclass(frozen=True)
class PersonOutcome:
    """What a person answered at a step, as the procedure reads it."""

    decision: Decision
    reason: str = ""
    response: dict[str, Any] = field(default_factory=dict)

    @property
    def approved(self) -> bool:
        return self.decision == Decision.APPROVED

    def answer(self, name: str) -> Any:
        """One of the person's answers on the step's form."""
        return self.response.get(name)


def outcome_of(approval: Approval) -> PersonOutcome | None:
    if approval.decision is None:
        return None
    return PersonOutcome(approval.decision, approval.reason, dict(approval.response or {}))


def link_ttl(step_key: str = "") -> timedelta:
    """How long a step's link works; the platform's answer has its own deadline."""
    settings = get_settings()
    if step_key == StepKey.PLATFORM_RESPONSE:
        return timedelta(hours=settings.platform_wait_hours)
    return timedelta(hours=settings.approval_ttl_hours)


def ask(session: Session, case: Case, step_key: StepKey) -> Approval:
    """Create the request and queue its content-free email, unless it exists already."""
    spec = procedure_for(case.incident_type).step(step_key)
    kind = ApprovalKind.APPROVAL if spec.kind == StepKind.APPROVAL else ApprovalKind.TASK
    person = responsible_for(session, case, spec.owner)
    approval, token = open_request(
        session,
        case_id=case.id,
        step_key=step_key,
        kind=kind,
        approver=person,
        ttl=link_ttl(step_key),
    )
    if token is None:
        return approval
    mark_waiting(session, case.id, step_key, person, approval.expires_at)
    record_event(
        session,
        case_id=case.id,
        kind=AuditKind.requested(kind),
        data={"step": step_key, "from": person.name, "expires_at": approval.expires_at.isoformat()},
    )
    email_request(session, case, approval, person, token)
    return approval


def email_request(
    session: Session,
    case: Case,
    approval: Approval,
    person: Person,
    token: str,
    waiting_since: datetime | None = None,
    note: str = "",
) -> None:
    """Queue the emailed link for `token`: one email per token, never a second.

    `waiting_since` makes it a reminder: when the request was first made. `note` says why
    it came to this person, when it was passed on.
    """
    title = procedure_for(case.incident_type).step(approval.step_key).title
    kind = EmailKind.request(approval.kind)
    reply_to = address_for(approval)
    email = render_email(
        f"emails/{kind}",
        **base_context(session, case),
        person=person,
        step_title=title,
        link=action_link(approval.kind, token),
        expires_at=approval.expires_at,
        waiting_since=waiting_since,
        by_reply=bool(reply_to),
        note=note,
    )
    queue_email(
        session,
        dedup_key=dedup_key(kind, approval.id, approval.token_hash[:16]),
        to=person,
        email=email,
        kind=kind,
        case_id=case.id,
        reply_to=reply_to,
    )


def holder_now(session: Session, case: Case, approval: Approval) -> Person | None:
    """Who a request should go to now: its approver while they may still answer it, else
    whoever stands in for them (`services.holders`); None if nobody can take it."""
    person = get_person(session, approval.approver_id)
    if unheld(session, case, person) is None:
        return person
    return stand_in(session, case, approval, person)


def current_holder(session: Session, case: Case, approval: Approval) -> Person:
    """`holder_now`, made the request's approver; NobodyInRole (a 409 page that says what
    to set up) when nobody can take it."""
    person = holder_now(session, case, approval)
    if person is None:
        title = procedure_for(case.incident_type).step(approval.step_key).title
        raise NobodyInRole(
            f"Nobody at the school can take “{title}” now: the person who had it can no "
            "longer answer it, and nobody else who could is set up in Casework. Ask an "
            "administrator to give someone the role, or pass the request on by hand."
        )
    approval.approver_id = person.id
    return person


def renew_link(
    session: Session,
    case: Case,
    approval: Approval,
    event: AuditKind,
    actor: Person | None = None,
    to: Person | None = None,
    **data: Any,
) -> tuple[Person, str]:
    """Give an undecided request a new link (the old one dies) and record why; `to` hands it
    to someone else, keeping a platform's deadline as it was."""
    before = get_person(session, approval.approver_id)
    if to is not None:
        approval.approver_id = to.id
    person = current_holder(session, case, approval)
    if person.id != before.id:
        data = {"from": before.name, **data}
    keep = to is not None and approval.step_key in DEADLINE_STEPS
    token = renew_token(session, approval, link_ttl(approval.step_key), keep_expiry=keep)
    mark_waiting(session, case.id, approval.step_key, person, approval.expires_at)
    record_event(
        session,
        case_id=case.id,
        kind=event,
        actor=actor,
        data={
            "step": approval.step_key,
            "to": person.name,
            **data,
            "expires_at": approval.expires_at.isoformat(),
        },
    )
    return person, token


def reissue(session: Session, case: Case, approval: Approval, actor: Person) -> None:
    """Replace the link of an undecided request (lost or expired email); the old one dies."""
    person, token = renew_link(
        session, case, approval, AuditKind.reissued(approval.kind), actor=actor
    )
    email_request(session, case, approval, person, token)


def remind(session: Session, case: Case, approval: Approval) -> bool:
    """Send a request still waiting again, with a fresh link; the old link stops working.

    False, sending nothing, while its holder may no longer answer it and nobody else can
    take it: it waits, flagged on the case page, until someone can (then a reminder goes to
    them)."""
    if holder_now(session, case, approval) is None:
        return False
    since = (
        first_for_step(session, case.id, AuditKind.requested(approval.kind), approval.step_key)
        or approval.requested_at
    )
    approval.reminders_sent += 1
    person, token = renew_link(
        session,
        case,
        approval,
        AuditKind.reminded(approval.kind),
        reminder=approval.reminders_sent,
    )
    email_request(session, case, approval, person, token, waiting_since=since)
    return True


HAND_OVERS = {
    AuditKind.REQUEST_DELEGATED: HandOver.DELEGATED,
    AuditKind.REQUEST_REASSIGNED: HandOver.REASSIGNED,
    AuditKind.REQUEST_ESCALATED: HandOver.ESCALATED,
    AuditKind.REQUEST_PASSED_ON: HandOver.PASSED_ON,
}


def hand_over(
    session: Session,
    case: Case,
    approval: Approval,
    to: Person,
    actor: Person | None,
    reason: str,
    why: AuditKind,
) -> None:
    """Give a waiting request to `to`: the old link stops working (opening it says the
    request moved on), `to` owns the step and gets a fresh link by email, and the audit trail
    records who passed it on, from whom, to whom and why. `actor` None is Casework itself
    (escalating, or passing on a leaver's request from the terminal).

    Whoever is chosen by a person starts with a fresh round of reminders; an escalation is
    already late, so it moves on again after one more wait (casework/reconciler.py).
    """
    kind = HAND_OVERS[why]
    note_hand_over(session, approval, kind, actor, reason, fresh=kind != HandOver.ESCALATED)
    person, token = renew_link(session, case, approval, why, actor=actor, to=to, reason=reason)
    # A person's reason may hold details of the case, and emails carry none; Casework's own
    # reason for an escalation says only who has not answered since when. Why someone may
    # no longer hold a request is about them, so their successor's email does not say.
    if kind == HandOver.PASSED_ON:
        note = "It has come to you because the person who had it can no longer answer it."
    elif kind == HandOver.ESCALATED or actor is None:
        note = f"It has come to you through the school's escalation chain. {reason}"
    else:
        note = f"{actor.name} has passed this to you."
    email_request(session, case, approval, person, token, note=note)


@dataclass(frozen=True)
class Answer:
    """A person's (or Casework's) answer to a request, as it is to be stored."""

    decision: Decision
    reason: str
    response: dict[str, Any]
    summary: str
    ip: str = ""
    user_agent: str = ""
    via: Via = Via.LINK
    # Further audit events the answer brings with it (an edited letter), recorded with it.
    events: tuple[tuple[AuditKind, dict[str, Any]], ...] = ()


def decide(session: Session, approval: Approval, answer: Answer, actor: Person | None) -> bool:
    """Store the answer if nobody has yet, record it and complete the step; True if stored.

    `actor` is the person answering through a live link; None is Casework itself recording
    that a deadline passed with no answer (the link has expired by then).
    """
    if not claim_decision(
        session,
        approval.id,
        decision=answer.decision,
        reason=answer.reason,
        response=answer.response,
        ip=answer.ip,
        user_agent=answer.user_agent,
        # A link and its reply address expire together; signed in, the person needs neither.
        live_only=actor is not None and answer.via != Via.APP,
    ):
        return False
    if actor is not None:
        record_event(
            session,
            case_id=approval.case_id,
            kind=AuditKind.decided(approval.kind),
            actor=actor,
            data={
                "step": approval.step_key,
                "decision": answer.decision.value,
                "reason": answer.reason,
                "answers": answer.response,
                "ip": answer.ip,
                "via": answer.via.value,
            },
        )
        for kind, data in answer.events:
            record_event(session, case_id=approval.case_id, kind=kind, actor=actor, data=data)
    else:
        record_event(
            session,
            case_id=approval.case_id,
            kind=AuditKind.DEADLINE_PASSED,
            data={"step": approval.step_key, "deadline": approval.expires_at.isoformat()},
        )
    finish_step(session, approval.case_id, approval.step_key, outcome=answer.summary, actor=actor)
    return True


def waiting_request(session: Session, case_id: int, step_key: str) -> Approval | None:
    """The step's request if it is still waiting for an answer."""
    approval = for_step(session, case_id, step_key)
    return approval if approval is not None and approval.decision is None else None


def no_longer_answerable(session: Session, approval: Approval) -> str:
    """Why a request can take no answer any more, whichever way one comes: "decided",
    "settled" (withdrawn with its case, or the case no longer open), or "passed_on" (the
    person asked may no longer answer it: their account is disabled, or the access policy
    no longer lets them see the case, so it waits for whoever holds the role now: see
    `current_holder`); "" while it waits for its approver."""
    if approval.decision is not None:
        return "decided"
    case = get_case(session, approval.case_id)
    if approval.superseded_at is not None or case.status != CaseStatus.OPEN:
        return "settled"
    if unheld(session, case, get_person(session, approval.approver_id)) is not None:
        return "passed_on"
    return ""
