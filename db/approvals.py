"""Approvals and tasks: single-use emailed links, decided exactly once."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Select, func, select, true, update
from sqlalchemy.orm import Session

from core.access import Action, Actor
from core.tokens import new_token, same, token_hash
from db.models import (
    Approval,
    ApprovalKind,
    Case,
    CaseStatus,
    Decision,
    DecisionCode,
    HandOver,
    Person,
    utcnow,
)
from db.visibility import may_clause
from db.wake import Work, wake_worker


def open_request(
    session: Session,
    *,
    case_id: int,
    step_key: str,
    kind: ApprovalKind,
    approver: Person,
    ttl: timedelta,
) -> tuple[Approval, str | None]:
    """The step's request, created once; the raw token is returned only when it is new."""
    existing = for_step(session, case_id, step_key)
    if existing is not None:
        return existing, None
    token = new_token()
    approval = Approval(
        case_id=case_id,
        step_key=step_key,
        kind=kind,
        approver_id=approver.id,
        token_hash=token_hash(token),
        expires_at=utcnow() + ttl,
    )
    session.add(approval)
    session.flush()
    return approval, token


def renew_token(
    session: Session, approval: Approval, ttl: timedelta, keep_expiry: bool = False
) -> str:
    """Give an undecided request a new link and expiry (or its old expiry, when that is a
    deadline); returns the new raw token."""
    token = new_token()
    approval.token_hash = token_hash(token)
    approval.requested_at = utcnow()
    if not keep_expiry:
        approval.expires_at = approval.requested_at + ttl
    session.flush()
    return token


# A request counts until it is superseded (its case withdrawn, or its step redone).
LIVE = Approval.superseded_at.is_(None)


def _waiting(*columns: Any) -> Select[Any]:
    """Live requests still waiting for an answer on open cases (joined to their case).

    An answer sets `decision` and `decided_at` together (`claim_decision`); both are asked
    for so that `ix_approvals_approver_waiting` (approver, decided_at) finds a person's
    waiting requests without reading every request they ever answered (the head answers
    one on nearly every case: 90,000 read for My work with 100,000 cases, on SQLite)."""
    return (
        select(*(columns or (Approval,)))
        .join(Case, Case.id == Approval.case_id)
        .where(
            Case.status == CaseStatus.OPEN,
            Approval.decision.is_(None),
            Approval.decided_at.is_(None),
            LIVE,
        )
    )


def note_hand_over(
    session: Session,
    approval: Approval,
    why: HandOver,
    by: Person | None,
    reason: str,
    fresh: bool,
) -> None:
    """Record on the request why it is about to change hands; its current link is kept
    aside, so opening it can say the request moved on. `fresh` starts the reminders again."""
    approval.passed_token_hash = approval.token_hash
    approval.handed_over = why
    approval.handed_over_by_id = by.id if by is not None else None
    approval.handed_over_reason = reason
    approval.handed_over_at = utcnow()
    approval.escalation_ended_at = None
    if fresh:
        approval.reminders_sent = 0
    session.flush()


def end_escalation(session: Session, approval: Approval) -> None:
    """Nobody further in the chain: the request stays with its holder, and is left alone."""
    approval.escalation_ended_at = utcnow()
    session.flush()


def for_step(session: Session, case_id: int, step_key: str) -> Approval | None:
    """The step's live request, if it has been asked."""
    return session.scalars(
        select(Approval).where(Approval.case_id == case_id, Approval.step_key == step_key, LIVE)
    ).first()


def approvals_of(session: Session, case_id: int) -> dict[str, Approval]:
    """Every live request the case has made, by step key."""
    return {
        a.step_key: a
        for a in session.scalars(select(Approval).where(Approval.case_id == case_id, LIVE))
    }


def supersede(session: Session, case_id: int, step_keys: list[str] | None = None) -> list[Approval]:
    """Retire the case's live requests (all, or those of `step_keys`): their links die.

    Without `step_keys` only the undecided ones (a withdrawn case); with them, decided ones
    too (steps to be done again). The rows stay, with what was decided.
    """
    query = select(Approval).where(Approval.case_id == case_id, LIVE)
    if step_keys is None:
        query = query.where(Approval.decision.is_(None))
    else:
        query = query.where(Approval.step_key.in_(step_keys))
    retired = list(session.scalars(query))
    now = utcnow()
    for approval in retired:
        approval.superseded_at = now
    session.flush()
    return retired


def my_work(session: Session, actor: Actor) -> list[tuple[Approval, Case]]:
    """What waits for this person's answer on open cases they may still see, the longest
    overdue first (a request left with someone who no longer serves its school is not
    theirs to answer)."""
    rows = session.execute(
        _waiting(Approval, Case)
        .where(Approval.approver_id == actor.id, may_clause(actor, Action.VIEW_CASE))
        .order_by(Approval.expires_at, Approval.id)
    )
    return [(approval, case) for approval, case in rows]


def get_approval(session: Session, approval_id: int) -> Approval | None:
    return session.get(Approval, approval_id)


def by_token(session: Session, token: str) -> Approval | None:
    return session.scalars(select(Approval).where(Approval.token_hash == token_hash(token))).first()


def by_passed_token(session: Session, token: str) -> Approval | None:
    """The request whose last holder was sent this link before it was passed on."""
    return session.scalars(
        select(Approval).where(Approval.passed_token_hash == token_hash(token))
    ).first()


def waiting_in(session: Session, case_id: int) -> list[Approval]:
    """The case's requests still waiting for an answer, oldest first."""
    return list(
        session.scalars(
            select(Approval)
            .where(Approval.case_id == case_id, Approval.decision.is_(None), LIVE)
            .order_by(Approval.id)
        )
    )


def claim_decision(
    session: Session,
    approval_id: int,
    *,
    decision: Decision,
    reason: str,
    response: dict[str, Any],
    ip: str,
    user_agent: str,
    now: datetime | None = None,
    live_only: bool = True,
) -> bool:
    """Store the decision if nobody has yet and the link is live; True for the one winner.

    A single conditional UPDATE: concurrent callers cannot both see "undecided".
    `live_only=False` ignores the link's expiry: Casework itself recording that a deadline
    passed, or the holder answering in the app, signed in (the expiry is the link's).
    """
    now = now or utcnow()
    live = Approval.expires_at > now if live_only else true()
    result = session.execute(
        update(Approval)
        .where(Approval.id == approval_id, Approval.decision.is_(None), LIVE, live)
        .values(
            decision=decision,
            reason=reason,
            response=response,
            decided_at=now,
            decided_ip=ip[:64],
            decided_user_agent=user_agent[:400],
        )
        .execution_options(synchronize_session=False)
    )
    won = bool(getattr(result, "rowcount", 0) == 1)
    if won:
        wake_worker(session, Work.DECISION)  # to hand the decision to its waiting run
    return won


def overdue(session: Session, step_key: str, now: datetime) -> list[Approval]:
    """Undecided requests for `step_key` whose deadline has passed."""
    return list(
        session.scalars(
            select(Approval).where(
                Approval.step_key == step_key,
                Approval.decision.is_(None),
                LIVE,
                Approval.expires_at <= now,
            )
        )
    )


def awaiting_resume(session: Session) -> list[Approval]:
    """Decisions stored whose flow has not been told yet (the reconciler's work list)."""
    return list(
        session.scalars(
            select(Approval)
            .where(Approval.decision.is_not(None), Approval.resumed_at.is_(None), LIVE)
            .order_by(Approval.decided_at)
        )
    )


def due_for_reminder(
    session: Session, *, sent_before: datetime, most: int, deadlines: tuple[str, ...]
) -> list[Approval]:
    """Undecided requests of open cases whose link went out before `sent_before`.

    Steps in `deadlines` are left out: their expiry is a deadline for someone outside the
    school (a platform), and passing it moves the case on by itself.
    """
    return list(
        session.scalars(
            _waiting()
            .where(
                Approval.requested_at <= sent_before,
                Approval.reminders_sent < most,
                Approval.step_key.not_in(deadlines),
            )
            .order_by(Approval.requested_at)
        )
    )


def due_for_escalation(
    session: Session, *, sent_before: datetime, reminders: int, deadlines: tuple[str, ...]
) -> list[Approval]:
    """Undecided requests of open cases that had every reminder and whose last link went
    out before `sent_before`, unless escalation already ran out of people for them.

    Steps in `deadlines` are left out, as for reminders.
    """
    return list(
        session.scalars(
            _waiting()
            .where(
                Approval.requested_at <= sent_before,
                Approval.reminders_sent >= reminders,
                Approval.escalation_ended_at.is_(None),
                Approval.step_key.not_in(deadlines),
            )
            .order_by(Approval.requested_at)
        )
    )


def waiting_on(session: Session, person_id: int) -> list[Approval]:
    """Requests still waiting for this person's answer on open cases."""
    return list(
        session.scalars(_waiting().where(Approval.approver_id == person_id).order_by(Approval.id))
    )


def add_code(session: Session, approval_id: int, code_hash: str, ttl: timedelta) -> DecisionCode:
    """A new confirmation code for the request; any earlier code stops working."""
    now = utcnow()
    session.execute(
        update(DecisionCode)
        .where(
            DecisionCode.approval_id == approval_id,
            DecisionCode.used_at.is_(None),
            DecisionCode.expires_at > now,
        )
        .values(expires_at=now)
        .execution_options(synchronize_session=False)
    )
    code = DecisionCode(
        approval_id=approval_id, code_hash=code_hash, created_at=now, expires_at=now + ttl
    )
    session.add(code)
    session.flush()
    return code


def codes_sent_since(session: Session, approval_id: int, since: datetime) -> int:
    """How many confirmation codes the request was sent after `since`."""
    return int(
        session.scalar(
            select(func.count(DecisionCode.id)).where(
                DecisionCode.approval_id == approval_id, DecisionCode.created_at > since
            )
        )
        or 0
    )


CodeCheck = Literal["ok", "wrong", "locked", "none"]


def spend_code(session: Session, approval_id: int, code_hash: str, most_attempts: int) -> CodeCheck:
    """Try a confirmation code: "ok" (now used), "wrong", "locked" or "none" (no live code).

    A wrong try counts against the live code; at `most_attempts` it stops working.
    """
    now = utcnow()
    code = session.scalars(
        select(DecisionCode)
        .where(
            DecisionCode.approval_id == approval_id,
            DecisionCode.used_at.is_(None),
            DecisionCode.expires_at > now,
        )
        .order_by(DecisionCode.id.desc())
    ).first()
    if code is None:
        return "none"
    if code.attempts >= most_attempts:
        return "locked"
    if not same(code.code_hash, code_hash):
        code.attempts += 1
        session.flush()
        return "locked" if code.attempts >= most_attempts else "wrong"
    used = session.execute(
        update(DecisionCode)
        .where(DecisionCode.id == code.id, DecisionCode.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return "ok" if getattr(used, "rowcount", 0) == 1 else "none"


def erase_answers(session: Session, case_id: int) -> int:
    """Disposal: what each request of the case was answered and why, where it was answered
    from, and why it was passed on; who was asked and what they decided stay. Returns how
    many requests had an answer."""
    answered = 0
    for approval in session.scalars(select(Approval).where(Approval.case_id == case_id)):
        answered += bool(approval.response or approval.reason)
        approval.response, approval.reason, approval.handed_over_reason = {}, "", ""
        approval.decided_ip, approval.decided_user_agent = "", ""
    session.flush()
    return answered
