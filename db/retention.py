"""Keeping closed cases: each one's review date, legal holds, and the tombstones left by
disposal. The rules and the date arithmetic are core/retention.py; what disposal removes
from each table is written by that table's own module (db/cases, db/evidence, ...), and
services/retention.py puts it together in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.access import Actor
from core.enums import AuditKind
from core.retention import CaseDates, RetentionRules, Review, review_of
from db.audit import record_event
from db.models import Case, CaseDisposal, LegalHold, Person, School, utcnow
from db.visibility import may_clause


def rules_of(session: Session, school_id: int) -> RetentionRules:
    """The school's years for each record class (the defaults unless it set its own)."""
    school = session.get(School, school_id)
    return RetentionRules.from_stored(school.retention if school else None)


def dates_of(case: Case) -> CaseDates | None:
    """What the case's review date rests on; None while it is open."""
    if case.closed_at is None:
        return None
    return CaseDates(
        incident_type=case.incident_type,
        details=case.details or {},
        safeguarding=case.safeguarding,
        occurred_on=case.occurred_at.date(),
        opened_on=case.opened_at.date(),
        closed_on=case.closed_at.date(),
    )


def review_for(session: Session, case: Case) -> Review | None:
    """The review date the school's rules give the case now; None while it is open."""
    dates = dates_of(case)
    return None if dates is None else review_of(dates, rules_of(session, case.school_id))


def date_review(session: Session, case: Case) -> None:
    """Give a closed case its review date (a date someone chose by hand is kept), or take
    it away from a case that is open again. Called whenever a case closes, is withdrawn,
    reopens, or has an answer its date rests on corrected."""
    if case.disposed_at is not None:
        return
    if case.closed_at is None:
        case.review_on, case.review_extended = None, False
        return
    review = review_for(session, case)
    if review is not None and not case.review_extended:
        case.review_on = review.on
    elif review is not None and case.review_on is not None and review.on > case.review_on:
        case.review_on = review.on  # a correction may make the rules ask for longer still


def set_rules(session: Session, school_id: int, rules: RetentionRules | None) -> int:
    """Save the school's rules (None: Casework's) and re-date its closed cases that nobody
    chose a date for by hand; returns how many cases were re-dated."""
    school = session.get(School, school_id)
    if school is None:
        raise LookupError(f"there is no school {school_id}")
    school.retention = None if rules is None else rules.stored()
    changed = 0
    for case in session.scalars(
        select(Case).where(
            Case.school_id == school_id,
            Case.closed_at.is_not(None),
            Case.disposed_at.is_(None),
            Case.review_extended.is_(False),
        )
    ):
        before = case.review_on
        date_review(session, case)
        changed += case.review_on != before
    session.flush()
    return changed


def locked_case(session: Session, case_id: int) -> Case | None:
    """The case, locked until the transaction ends: a hold placed and a disposal started at
    the same moment are decided one after the other (SQLite: the write lock does this)."""
    return session.scalars(select(Case).where(Case.id == case_id).with_for_update()).first()


def live_hold(session: Session, case_id: int) -> LegalHold | None:
    """The case's legal hold in force, if any."""
    return session.scalars(
        select(LegalHold)
        .where(LegalHold.case_id == case_id, LegalHold.released_at.is_(None))
        .order_by(LegalHold.id)
    ).first()


def holds_of(session: Session, case_id: int) -> list[LegalHold]:
    """Every hold the case has had, newest first."""
    return list(
        session.scalars(
            select(LegalHold).where(LegalHold.case_id == case_id).order_by(LegalHold.id.desc())
        )
    )


def place_hold(session: Session, case: Case, person: Person, reason: str) -> LegalHold:
    hold = LegalHold(case_id=case.id, reason=reason, placed_by_id=person.id)
    session.add(hold)
    session.flush()
    record_event(
        session,
        case_id=case.id,
        kind=AuditKind.LEGAL_HOLD_PLACED,
        actor=person,
        data={"hold_id": hold.id, "reason": reason},
    )
    return hold


def release_hold(session: Session, hold: LegalHold, person: Person, reason: str) -> None:
    hold.released_at, hold.released_by_id, hold.release_reason = utcnow(), person.id, reason
    record_event(
        session,
        case_id=hold.case_id,
        kind=AuditKind.LEGAL_HOLD_RELEASED,
        actor=person,
        data={"hold_id": hold.id, "reason": reason},
    )


def keep_until(session: Session, case: Case, person: Person, until: date, reason: str) -> None:
    """A later review date chosen by hand, with the reason; the trail keeps both dates."""
    before = case.review_on
    case.review_on, case.review_extended = until, True
    record_event(
        session,
        case_id=case.id,
        kind=AuditKind.RETENTION_EXTENDED,
        actor=person,
        data={
            "from": before.isoformat() if before else "",
            "until": until.isoformat(),
            "reason": reason,
        },
    )


@dataclass(frozen=True)
class QueueRow:
    """A closed case in the review queue, with its hold if it has one."""

    case: Case
    hold: LegalHold | None


def review_queue(
    session: Session, actor: Actor | None, school_id: int, today: date, limit: int = 200
) -> list[QueueRow]:
    """The school's closed cases due for review by `today` that `actor` may see (None: the
    terminal, which acts for every school), oldest review date first, held ones included
    (the page says they cannot be disposed of)."""
    query = select(Case).where(
        Case.school_id == school_id,
        Case.review_on <= today,
        Case.disposed_at.is_(None),
        Case.closed_at.is_not(None),
    )
    if actor is not None:
        query = query.where(may_clause(actor))
    cases = list(session.scalars(query.order_by(Case.review_on, Case.id).limit(limit)))
    holds = _live_holds(session, [c.id for c in cases])
    return [QueueRow(c, holds.get(c.id)) for c in cases]


def held_cases(session: Session, actor: Actor, school_id: int) -> list[QueueRow]:
    """The school's cases under a legal hold now, whatever their review date."""
    rows = session.execute(
        select(Case, LegalHold)
        .join(LegalHold, LegalHold.case_id == Case.id)
        .where(Case.school_id == school_id, LegalHold.released_at.is_(None), may_clause(actor))
        .order_by(LegalHold.placed_at, Case.id)
    ).all()
    return [QueueRow(case, hold) for case, hold in rows]


def _live_holds(session: Session, case_ids: list[int]) -> dict[int, LegalHold]:
    if not case_ids:
        return {}
    found: dict[int, LegalHold] = {}
    for hold in session.scalars(
        select(LegalHold).where(LegalHold.case_id.in_(case_ids), LegalHold.released_at.is_(None))
    ):
        found.setdefault(hold.case_id, hold)
    return found


def record_disposal(
    session: Session,
    case: Case,
    person: Person | None,
    reason: str,
    classes: str,
    counts: dict[str, int],
) -> CaseDisposal:
    """Leave the tombstone and say so in the trail (with counts, never the content)."""
    case.disposed_at = utcnow()
    tombstone = CaseDisposal(
        case_id=case.id,
        disposed_at=case.disposed_at,
        disposed_by_id=person.id if person else None,
        reason=reason,
        record_classes=classes,
        review_on=case.review_on,
        counts=counts,
    )
    session.add(tombstone)
    session.flush()
    data: dict[str, Any] = {
        "reference": case.reference,
        "reason": reason,
        "classes": classes,
        "review_on": case.review_on.isoformat() if case.review_on else "",
        "removed": counts,
    }
    record_event(session, case_id=case.id, kind=AuditKind.CASE_DISPOSED, actor=person, data=data)
    return tombstone


def disposal_of(session: Session, case_id: int) -> CaseDisposal | None:
    """The case's tombstone, if it was disposed of."""
    return session.scalars(select(CaseDisposal).where(CaseDisposal.case_id == case_id)).first()
