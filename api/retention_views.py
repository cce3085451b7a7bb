"""Read models for the retention pages: the review queue, one case's review, a tombstone."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from api.views import case_with_facts, log_access
from core.access import Actor
from core.enums import AuditKind
from core.procedures import procedure_for
from core.retention import RecordClass, RetentionRules, Review, classes_of
from db.models import Case, CaseDisposal, LegalHold
from db.people import names_of
from db.retention import disposal_of, held_cases, holds_of, review_for, review_queue, rules_of
from db.session import Session


@dataclass(frozen=True)
class Row:
    """A line of the review queue."""

    case: Case
    label: str
    classes: str
    held: LegalHold | None


@dataclass
class Queue:
    due: list[Row]
    held: list[Row]
    today: date
    rules: RetentionRules


def class_words(case: Case) -> str:
    return ", ".join(
        c.label for c in classes_of(case.incident_type, case.details or {}, case.safeguarding)
    )


def queue_view(session: Session, actor: Actor, school_id: int, today: date) -> Queue:
    """Cases due for review (oldest first) and cases under a legal hold."""

    def row(case: Case, hold: LegalHold | None) -> Row:
        return Row(case, procedure_for(case.incident_type).label, class_words(case), hold)

    due = [row(r.case, r.hold) for r in review_queue(session, actor, school_id, today)]
    held = [row(r.case, r.hold) for r in held_cases(session, actor, school_id)]
    view = Queue(due, held, today, rules_of(session, school_id))
    session.expunge_all()
    return view


@dataclass(frozen=True)
class HoldLine:
    hold: LegalHold
    placed_by: str
    released_by: str


@dataclass
class CaseReview:
    """One case as the review page shows it: its date, why, its holds."""

    case: Case
    label: str
    classes: str
    rule: Review | None  # what the school's rules give now
    holds: list[HoldLine] = field(default_factory=list)
    due: bool = False

    @property
    def live(self) -> LegalHold | None:
        return next((h.hold for h in self.holds if h.hold.released_at is None), None)


def review_view(session: Session, actor: Actor, case_id: int, today: date) -> CaseReview:
    """The case's review page (404 for a case the person may not see)."""
    case, _ = case_with_facts(session, actor, case_id)
    holds = holds_of(session, case.id)
    ids = {h.placed_by_id for h in holds} | {h.released_by_id for h in holds if h.released_by_id}
    names = names_of(session, ids)
    view = CaseReview(
        case=case,
        label=procedure_for(case.incident_type).label,
        classes=class_words(case),
        rule=review_for(session, case),
        holds=[
            HoldLine(h, names.get(h.placed_by_id, "?"), names.get(h.released_by_id or 0, ""))
            for h in holds
        ],
        due=case.review_on is not None and case.review_on <= today,
    )
    session.expunge_all()
    return view


@dataclass
class Tombstone:
    """What is left of a disposed case, for its page."""

    case: Case
    label: str
    disposal: CaseDisposal
    disposed_by: str
    classes: list[str]
    holds: list[HoldLine]
    disposed_at: datetime


def tombstone_view(session: Session, actor: Actor, case_id: int) -> Tombstone | None:
    """The tombstone if the case was disposed of (its viewing logged), else None."""
    case, _ = case_with_facts(session, actor, case_id)
    disposal = disposal_of(session, case.id) if case.disposed_at is not None else None
    if disposal is None:
        return None
    log_access(session, case, actor, AuditKind.CASE_VIEWED)
    holds = holds_of(session, case.id)
    ids = {h.placed_by_id for h in holds} | {h.released_by_id for h in holds if h.released_by_id}
    names = names_of(
        session, ids | ({disposal.disposed_by_id} if disposal.disposed_by_id else set())
    )
    view = Tombstone(
        case=case,
        label=procedure_for(case.incident_type).label,
        disposal=disposal,
        disposed_by=names.get(disposal.disposed_by_id or 0, "Casework"),
        classes=[RecordClass(c).label for c in disposal.record_classes.split(",") if c],
        holds=[
            HoldLine(h, names.get(h.placed_by_id, "?"), names.get(h.released_by_id or 0, ""))
            for h in holds
        ],
        disposed_at=disposal.disposed_at,
    )
    session.expunge_all()
    return view
