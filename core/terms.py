"""School terms and date ranges: what the dashboard and the governors' report count over.

A school year has three terms (autumn, spring, summer). Each starts on a month and day set in
`CASEWORK_TERM_STARTS` and runs to the day before the next one starts, holidays included, so
every day belongs to exactly one term and no incident falls between two reports. Days are UK
days: a range's edges are midnight in London, turned into UTC for the queries.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")
# Autumn, spring and summer, as MM-DD: the English school year's usual shape, with each
# holiday counted in the term before it.
DEFAULT_TERM_STARTS = "09-01,01-01,04-01"


class Season(enum.StrEnum):
    """A term of the school year, in school-year order."""

    AUTUMN = "autumn"
    SPRING = "spring"
    SUMMER = "summer"


@dataclass(frozen=True)
class TermStarts:
    """The month and day each term starts: spring and summer within a calendar year, then
    autumn, which runs into the next one."""

    autumn: tuple[int, int]
    spring: tuple[int, int]
    summer: tuple[int, int]

    def start(self, season: Season, year: int) -> date:
        month, day = getattr(self, season.value)
        return date(year, month, day)


def parse_term_starts(spec: str) -> TermStarts:
    """`"09-01,01-01,04-01"` (autumn, spring, summer); ValueError with the reason if not."""
    parts = [p.strip() for p in spec.split(",")]
    if len(parts) != 3:
        raise ValueError("give three dates, autumn, spring and summer, as MM-DD,MM-DD,MM-DD")
    found: list[tuple[int, int]] = []
    for part in parts:
        try:
            when = datetime.strptime(f"2000-{part}", "%Y-%m-%d")  # a leap year: 02-29 is real
        except ValueError:
            raise ValueError(f"{part!r} is not a month and day written as MM-DD") from None
        found.append((when.month, when.day))
    autumn, spring, summer = found
    if not spring < summer < autumn:
        raise ValueError("spring must start before summer, and summer before autumn")
    return TermStarts(autumn=autumn, spring=spring, summer=summer)


@dataclass(frozen=True)
class DateRange:
    """UK days from `first` to `last`, both included."""

    first: date
    last: date

    @property
    def start(self) -> datetime:
        """The first moment of the range, in UTC."""
        return local_midnight(self.first)

    @property
    def end(self) -> datetime:
        """The first moment after the range, in UTC."""
        return local_midnight(self.last + timedelta(days=1))

    def months(self) -> list[date]:
        """The first day of each calendar month the range touches, in order."""
        found: list[date] = []
        month = self.first.replace(day=1)
        while month <= self.last:
            found.append(month)
            month = (month + timedelta(days=32)).replace(day=1)
        return found

    def month_edges(self) -> list[datetime]:
        """Where each month after the first begins, in UTC, clipped to the range: a case
        opened before edge i (and after edge i-1) belongs to month i."""
        return [local_midnight(m) for m in self.months()[1:]]


@dataclass(frozen=True)
class Term:
    season: Season
    year: int  # the calendar year the term starts in
    days: DateRange

    @property
    def key(self) -> str:
        """How an address names the term: `2026-autumn`."""
        return f"{self.year}-{self.season.value}"

    @property
    def label(self) -> str:
        return f"{self.season.value.capitalize()} term {self.year}"


def local_midnight(day: date) -> datetime:
    """The start of a UK day, in UTC."""
    return datetime.combine(day, time(), tzinfo=LONDON).astimezone(UTC)


def uk_today(now: datetime | None = None) -> date:
    return (now or datetime.now(UTC)).astimezone(LONDON).date()


def _after(season: Season, year: int) -> tuple[Season, int]:
    match season:
        case Season.AUTUMN:
            return Season.SPRING, year + 1
        case Season.SPRING:
            return Season.SUMMER, year
        case Season.SUMMER:
            return Season.AUTUMN, year


def _before(season: Season, year: int) -> tuple[Season, int]:
    match season:
        case Season.AUTUMN:
            return Season.SUMMER, year
        case Season.SPRING:
            return Season.AUTUMN, year - 1
        case Season.SUMMER:
            return Season.SPRING, year


def term(season: Season, year: int, starts: TermStarts) -> Term:
    next_season, next_year = _after(season, year)
    first = starts.start(season, year)
    last = starts.start(next_season, next_year) - timedelta(days=1)
    return Term(season, year, DateRange(first, last))


def term_of(day: date, starts: TermStarts) -> Term:
    """The term `day` falls in."""
    for season in (Season.AUTUMN, Season.SUMMER, Season.SPRING):
        if day >= starts.start(season, day.year):
            return term(season, day.year, starts)
    return term(Season.AUTUMN, day.year - 1, starts)


def previous_term(current: Term, starts: TermStarts) -> Term:
    return term(*_before(current.season, current.year), starts)


def recent_terms(today: date, starts: TermStarts, count: int = 6) -> list[Term]:
    """The term `today` is in and the ones before it, newest first."""
    found = [term_of(today, starts)]
    while len(found) < count:
        found.append(previous_term(found[-1], starts))
    return found


def term_by_key(key: str, starts: TermStarts) -> Term:
    """The term an address names (`2026-autumn`); ValueError for anything else."""
    year, _, season = key.partition("-")
    if not (year.isascii() and year.isdigit() and len(year) == 4):
        raise ValueError(key)
    return term(Season(season), int(year), starts)
