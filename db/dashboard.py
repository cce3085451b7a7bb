"""The dashboard's figures: counts over a school's cases opened in a date range.

Every figure is one aggregate query (GROUP BY, COUNT, SUM, MAX) over the cases the range
holds, found through the `ix_cases_school_opened` index, so the cost grows with the number
of groups shown rather than with the number of cases. Nothing here returns a name or a
description: only numbers and the fixed keys they are grouped by. The few names read here
are for the governors' report's privacy check, which looks for them in the finished report.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, distinct, extract, func, select
from sqlalchemy.orm import Session, aliased

from core.enums import EmailKind, IncidentType, StepKey
from db.cases import POLICE_STEPS
from db.models import (
    Approval,
    Case,
    CaseMention,
    CaseStatus,
    CaseStep,
    OutboxMessage,
    OutboxStatus,
    Person,
    PostalLetter,
    Role,
    StepStatus,
)
from db.people import serving


@dataclass(frozen=True)
class Scope:
    """Which cases the figures count: one school's, opened from `start` up to `end` (UTC);
    none about `hidden_subject` (the person looking never learns of a case about them)."""

    school_id: int
    start: datetime
    end: datetime
    hidden_subject: int | None = None


@dataclass(frozen=True)
class Outcome:
    """How a group of cases stands: its status, how a case of online abuse was resolved, or
    what the headteacher decided for a member of staff (None where not recorded)."""

    status: CaseStatus
    resolution: str | None
    staff_decision: str | None


@dataclass(frozen=True)
class Figures:
    """Everything the dashboard counts, by the keys the database stores."""

    by_type: dict[IncidentType, int]
    by_status: dict[CaseStatus, int]
    by_month: list[int]  # one per month of the range, in order
    by_platform: dict[str, int]
    by_outcome: dict[Outcome, int]
    closed: int  # cases closed, with a closing time
    median_close_seconds: float | None
    longest_close_seconds: float | None
    waiting_requests: int  # requests still waiting for an answer, on open cases, now
    overdue_requests: int  # ... of which past their deadline or their link's expiry
    police_referrals: int  # cases with a referral to the police or CEOP recorded
    hr_escalations: int
    letter_cases: int  # cases whose letter to all parents went out
    letters_by_email: int
    letters_by_post: int

    @property
    def total(self) -> int:
        return sum(self.by_status.values())


def _in_scope(scope: Scope) -> ColumnElement[bool]:
    found = and_(
        Case.school_id == scope.school_id,
        Case.opened_at >= scope.start,
        Case.opened_at < scope.end,
    )
    if scope.hidden_subject is not None:
        found = and_(found, Case.subject_id.is_distinct_from(scope.hidden_subject))
    return found


def _grouped(session: Session, column: Any, scope: Scope) -> dict[Any, int]:
    rows = session.execute(
        select(column, func.count()).where(_in_scope(scope)).group_by(column)
    ).all()
    return {key: int(n) for key, n in rows}


def _by_month(session: Session, scope: Scope, edges: list[datetime]) -> list[int]:
    """Cases per month: each case numbered by the first month edge it falls before."""
    if not edges:  # one month: no CASE needed (and SQL has no CASE without a WHEN)
        return [int(session.scalar(select(func.count()).where(_in_scope(scope))) or 0)]
    month = case(*((Case.opened_at < edge, i) for i, edge in enumerate(edges)), else_=len(edges))
    # Grouped outside a subquery: PostgreSQL sees the CASE with its parameters only once.
    numbered = select(month.label("month")).where(_in_scope(scope)).subquery()
    counts = [0] * (len(edges) + 1)
    for index, n in session.execute(
        select(numbered.c.month, func.count()).group_by(numbered.c.month)
    ):
        counts[int(index)] = int(n)
    return counts


def _by_outcome(session: Session, scope: Scope) -> dict[Outcome, int]:
    """Cases by status, and closed ones by the last answer that settles them."""
    resolution = aliased(Approval)
    staff = aliased(Approval)

    def decided(request: Any, key: StepKey) -> ColumnElement[bool]:
        return and_(
            request.case_id == Case.id,
            request.step_key == key,
            request.superseded_at.is_(None),
            request.decided_at.is_not(None),
        )

    settled = (
        select(
            Case.status.label("status"),
            resolution.response["resolution"].as_string().label("resolution"),
            staff.decision.label("decision"),
        )
        .outerjoin(resolution, decided(resolution, StepKey.RECORD_RESOLUTION))
        .outerjoin(staff, decided(staff, StepKey.STAFF_OUTCOME))
        .where(_in_scope(scope))
        .subquery()
    )
    rows = session.execute(
        select(settled.c.status, settled.c.resolution, settled.c.decision, func.count()).group_by(
            settled.c.status, settled.c.resolution, settled.c.decision
        )
    )
    found: dict[Outcome, int] = {}
    for status, resolved, decision, n in rows:
        closed = CaseStatus(status) == CaseStatus.CLOSED
        key = Outcome(
            CaseStatus(status),
            str(resolved) if resolved is not None and closed else None,
            str(decision) if decision is not None and closed else None,
        )
        found[key] = found.get(key, 0) + int(n)
    return found


def _seconds_open(session: Session) -> ColumnElement[Any]:
    """How long a closed case was open, in seconds, in the database's own arithmetic."""
    if session.get_bind().dialect.name == "sqlite":
        days = func.julianday(Case.closed_at) - func.julianday(Case.opened_at)
        return days * 86400.0
    return extract("epoch", Case.closed_at - Case.opened_at)


def _closing_times(session: Session, scope: Scope) -> tuple[int, float | None, float | None]:
    """How many cases closed, the median time they took and the longest."""
    took = _seconds_open(session)
    closed = and_(_in_scope(scope), Case.status == CaseStatus.CLOSED, Case.closed_at.is_not(None))
    count, longest = session.execute(select(func.count(), func.max(took)).where(closed)).one()
    if not count:
        return 0, None, None
    # The middle one or two, found by sorting in the database (SQLite has no median).
    middle = [
        float(v)
        for v in session.scalars(
            select(took).where(closed).order_by(took).offset((count - 1) // 2).limit(2 - count % 2)
        )
    ]
    return int(count), sum(middle) / len(middle), float(longest)


def _requests(session: Session, scope: Scope, now: datetime) -> tuple[int, int]:
    """Requests still waiting on open cases, and how many of them are overdue."""
    overdue = func.coalesce(func.sum(case((Approval.expires_at <= now, 1), else_=0)), 0)
    waiting, late = session.execute(
        select(func.count(Approval.id), overdue)
        .join(Case, Case.id == Approval.case_id)
        .where(
            _in_scope(scope),
            Case.status == CaseStatus.OPEN,
            Approval.decision.is_(None),
            Approval.superseded_at.is_(None),
        )
    ).one()
    return int(waiting), int(late)


def _cases_with_step(session: Session, scope: Scope, *keys: str) -> int:
    """How many cases did one of these steps (not skipped, not still to come)."""
    return int(
        session.scalar(
            select(func.count(distinct(CaseStep.case_id)))
            .join(Case, Case.id == CaseStep.case_id)
            .where(_in_scope(scope), CaseStep.key.in_(keys), CaseStep.status == StepStatus.DONE)
        )
        or 0
    )


def _letters(session: Session, scope: Scope) -> tuple[int, int, int]:
    """Cases whose letter to parents went out, and the letters: emailed and posted."""
    sent = _cases_with_step(session, scope, StepKey.SEND_PARENT_LETTER)
    emailed = session.scalar(
        select(func.count(OutboxMessage.id))
        .join(Case, Case.id == OutboxMessage.case_id)
        .where(
            _in_scope(scope),
            OutboxMessage.kind == EmailKind.PARENT_LETTER,
            OutboxMessage.status != OutboxStatus.CANCELLED,
        )
    )
    posted = session.scalar(
        select(func.count(PostalLetter.id))
        .join(Case, Case.id == PostalLetter.case_id)
        .where(_in_scope(scope))
    )
    return sent, int(emailed or 0), int(posted or 0)


def figures(session: Session, scope: Scope, month_edges: list[datetime], now: datetime) -> Figures:
    """Every figure the dashboard shows for the cases in `scope`."""
    closed, median, longest = _closing_times(session, scope)
    waiting, overdue = _requests(session, scope, now)
    letter_cases, by_email, by_post = _letters(session, scope)
    hr = session.scalar(
        select(func.count()).where(_in_scope(scope), Case.hr_escalated_at.is_not(None))
    )
    return Figures(
        by_type=_grouped(session, Case.incident_type, scope),
        by_status=_grouped(session, Case.status, scope),
        by_month=_by_month(session, scope, month_edges),
        by_platform=_grouped(session, Case.platform, scope),
        by_outcome=_by_outcome(session, scope),
        closed=closed,
        median_close_seconds=median,
        longest_close_seconds=longest,
        waiting_requests=waiting,
        overdue_requests=overdue,
        police_referrals=_cases_with_step(session, scope, *POLICE_STEPS),
        hr_escalations=int(hr or 0),
        letter_cases=letter_cases,
        letters_by_email=by_email,
        letters_by_post=by_post,
    )


# --- What the governors' report must not name ---------------------------------------------


def people_names(session: Session, school_id: int) -> list[tuple[str, Role]]:
    """Everyone the school has in Casework (staff, governors, parents and carers), with
    their role; people who serve it from elsewhere too."""
    rows = session.execute(select(Person.name, Person.role).where(serving(school_id)))
    return [(name, role) for name, role in rows]


def case_details(session: Session, scope: Scope) -> Iterator[dict[str, Any]]:
    """The answers of each report in scope (where pupils' names are kept), a batch at a time."""
    rows = session.scalars(
        select(Case.details).where(_in_scope(scope)).execution_options(yield_per=1000)
    )
    for details in rows:
        yield details or {}


def accounts_named(session: Session, scope: Scope) -> list[str]:
    """The online accounts the reports in scope name."""
    return list(
        session.scalars(
            select(CaseMention.handle)
            .join(Case, Case.id == CaseMention.case_id)
            .where(_in_scope(scope))
            .distinct()
        )
    )
