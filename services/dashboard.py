"""The dashboard as people read it: the figures of `db.dashboard` with their labels, the
times in days and hours, and a chart of each breakdown. The page, the governors' report and
its email all show this one read model, so they always agree.

Figures only: every label comes from Casework's own lists (incident types, platforms,
outcomes, months), never from what a report says, so no name can reach it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from core.charts import Bar, bar_chart
from core.enums import Decision, IncidentType
from core.rules import PLATFORMS
from core.terms import DateRange
from db.dashboard import Figures, Outcome, Scope, figures
from db.models import CaseStatus
from db.schools import get_school
from db.session import Session

# Short names for the charts; the procedures' own titles are sentences.
TYPE_LABELS = {
    IncidentType.PUPIL_CONTACT: "A pupil contacted staff",
    IncidentType.PARENT_CONTACT: "A parent contacted staff",
    IncidentType.ONLINE_ABUSE: "Online abuse or harassment",
    IncidentType.STAFF_CONDUCT: "Staff conduct",
}
RESOLUTION_LABELS = {
    "resolved": "Closed: resolved",
    "partly_resolved": "Closed: partly resolved",
    "unresolved": "Closed: not resolved",
}
STAFF_LABELS = {
    Decision.NO_ACTION.value: "Closed: no action for the member of staff",
    Decision.ADVICE.value: "Closed: advice or guidance for the member of staff",
    Decision.FORMAL_PROCESS.value: "Closed: formal disciplinary process",
}
OPEN_LABEL = "Still open"
WITHDRAWN_LABEL = "Withdrawn (reported in error)"
DONE_LABEL = "Closed: procedure completed"
OUTCOME_ORDER = (
    OPEN_LABEL,
    *RESOLUTION_LABELS.values(),
    *STAFF_LABELS.values(),
    DONE_LABEL,
    WITHDRAWN_LABEL,
)
OTHER_PLATFORM = PLATFORMS["other"]
TYPE_ORDER = tuple(TYPE_LABELS.values())
PLATFORM_ORDER = tuple(PLATFORMS.values())


@dataclass(frozen=True)
class Breakdown:
    """One way of counting the cases: its rows, and the chart drawn from them."""

    key: str
    title: str
    column: str  # what each row is: the table's first heading
    rows: list[Bar]

    @property
    def chart(self) -> str:
        return bar_chart(f"chart-{self.key}", self.title, self.rows)


@dataclass(frozen=True)
class Dashboard:
    school_name: str
    days: DateRange
    period_label: str  # "Autumn term 2026" or "1 September 2026 to 31 December 2026"
    figures: Figures
    made_at: datetime
    breakdowns: list[Breakdown] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.figures.total

    @property
    def open_cases(self) -> int:
        return self.figures.by_status.get(CaseStatus.OPEN, 0)

    @property
    def median_close(self) -> str:
        return duration(self.figures.median_close_seconds)

    @property
    def longest_close(self) -> str:
        return duration(self.figures.longest_close_seconds)

    @property
    def letters(self) -> int:
        return self.figures.letters_by_email + self.figures.letters_by_post

    def headline(self) -> list[tuple[str, str]]:
        """The single figures, as (what, how many), in the order the page lists them."""
        f = self.figures
        return [
            ("Cases opened", f"{self.total:,}"),
            ("Still open", f"{self.open_cases:,}"),
            ("Closed", f"{f.closed:,}"),
            ("Typical time to close (median)", self.median_close),
            ("Longest time to close", self.longest_close),
            ("Requests waiting for an answer now", f"{f.waiting_requests:,}"),
            ("Of those, overdue", f"{f.overdue_requests:,}"),
            ("Referred to the police or CEOP", f"{f.police_referrals:,}"),
            ("Escalated to HR", f"{f.hr_escalations:,}"),
            ("Cases with a letter to all parents", f"{f.letter_cases:,}"),
            ("Letters sent (email and post)", f"{self.letters:,}"),
        ]


def duration(seconds: float | None) -> str:
    """A time to close in days and hours: "3 days 4 hours", "5 hours", "under an hour"."""
    if seconds is None:
        return "none closed"
    hours = int(seconds // 3600)
    days, hours = divmod(hours, 24)
    if not days and not hours:
        return "under an hour"
    parts = []
    if days:
        parts.append(f"{days:,} day{'s' if days != 1 else ''}")
    if hours:
        parts.append(f"{hours} hour{'s' if hours != 1 else ''}")
    return " ".join(parts)


def platform_label(stored: str) -> str:
    """A platform as the lists name it; anything else stored is "another platform"."""
    if stored in PLATFORMS:
        return PLATFORMS[stored]
    return stored if stored in PLATFORMS.values() else OTHER_PLATFORM


def outcome_label(outcome: Outcome) -> str:
    if outcome.status == CaseStatus.OPEN:
        return OPEN_LABEL
    if outcome.status == CaseStatus.WITHDRAWN:
        return WITHDRAWN_LABEL
    if outcome.resolution in RESOLUTION_LABELS:
        return RESOLUTION_LABELS[outcome.resolution]
    return STAFF_LABELS.get(outcome.staff_decision or "", DONE_LABEL)


def _summed(pairs: list[tuple[str, int]], order: tuple[str, ...] = ()) -> list[Bar]:
    """Counts added up by label: in `order` (every label shown), then the rest by size."""
    totals: dict[str, int] = {label: 0 for label in order}
    for label, n in pairs:
        totals[label] = totals.get(label, 0) + n
    rest = sorted((k for k in totals if k not in order), key=lambda k: (-totals[k], k))
    return [Bar(label, totals[label]) for label in (*order, *rest)]


def breakdowns(found: Figures, days: DateRange) -> list[Breakdown]:
    labels = [m.strftime("%B %Y") for m in days.months()]
    months = [Bar(label, n) for label, n in zip(labels, found.by_month, strict=True)]
    platforms = [(platform_label(p), n) for p, n in found.by_platform.items()]
    outcomes = [(outcome_label(o), n) for o, n in found.by_outcome.items()]
    types = [(TYPE_LABELS[t], found.by_type.get(t, 0)) for t in IncidentType]
    return [
        Breakdown(
            "type", "Cases by kind of incident", "Kind of incident", _summed(types, TYPE_ORDER)
        ),
        Breakdown("month", "Cases opened each month", "Month", months),
        Breakdown("platform", "Cases by platform", "Platform", _summed(platforms, PLATFORM_ORDER)),
        Breakdown("outcome", "Cases by outcome", "Outcome", _summed(outcomes, OUTCOME_ORDER)),
    ]


def dashboard(
    session: Session,
    school_id: int,
    days: DateRange,
    period_label: str,
    viewer_id: int | None = None,
    now: datetime | None = None,
) -> Dashboard:
    """The figures for cases the school opened on `days`; cases about `viewer_id` left out."""
    now = now or datetime.now(UTC)
    scope = Scope(school_id, days.start, days.end, hidden_subject=viewer_id)
    found = figures(session, scope, days.month_edges(), now)
    return Dashboard(
        school_name=get_school(session, school_id).name,
        days=days,
        period_label=period_label,
        figures=found,
        made_at=now,
        breakdowns=breakdowns(found, days),
    )
