"""How long a closed case is kept: its record classes, the school's rules, its review date.

Pure: the caller passes what the case says and the school's rules, nothing is read here. The
figures and why they were chosen are in docs/DECISIONS.md ("Retention, legal hold and
disposal"). A case may belong to more than one class (a staff conduct report that also
names a pupil at risk); it is then kept until the latest of their dates.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from core.enums import IncidentType


class RecordClass(enum.StrEnum):
    """What kind of record a case is, for keeping it."""

    PUPIL = "pupil"  # a pupil's safeguarding record
    STAFF = "staff"  # an allegation about a member of staff
    OTHER = "other"  # any other incident

    @property
    def label(self) -> str:
        return CLASS_LABELS[self]


CLASS_LABELS = {
    RecordClass.PUPIL: "Pupil safeguarding record",
    RecordClass.STAFF: "Allegation about a member of staff",
    RecordClass.OTHER: "Other incident",
}


@dataclass(frozen=True)
class Limit:
    """The years a school may set for a class: the guidance's figure is the least."""

    default: int
    least: int
    most: int = 100
    counted_from: str = ""


LIMITS: dict[RecordClass, Limit] = {
    RecordClass.PUPIL: Limit(25, 25, counted_from="the pupil's date of birth"),
    RecordClass.STAFF: Limit(10, 10, counted_from="the date of the allegation"),
    RecordClass.OTHER: Limit(6, 1, counted_from="the date the case closed"),
}


@dataclass(frozen=True)
class RetentionRules:
    """A school's years for each class (Casework's defaults unless it set its own)."""

    pupil: int = LIMITS[RecordClass.PUPIL].default
    staff: int = LIMITS[RecordClass.STAFF].default
    other: int = LIMITS[RecordClass.OTHER].default

    def years(self, record_class: RecordClass) -> int:
        return int(getattr(self, record_class.value))

    def stored(self) -> dict[str, int]:
        """As the school's row keeps them."""
        return {c.value: self.years(c) for c in RecordClass}

    @classmethod
    def from_stored(cls, stored: Mapping[str, Any] | None) -> RetentionRules:
        """The rules a school's row holds; anything missing or out of range is the default."""
        values: dict[str, int] = {}
        for record_class, limit in LIMITS.items():
            raw = (stored or {}).get(record_class.value)
            if isinstance(raw, int) and limit.least <= raw <= limit.most:
                values[record_class.value] = raw
        return cls(**values)


DEFAULT_RULES = RetentionRules()


def problem_with_years(record_class: RecordClass, raw: str) -> tuple[int | None, str]:
    """The years typed for a class, or None and what is wrong, in plain words."""
    limit = LIMITS[record_class]
    text = raw.strip()
    if not (text.isascii() and text.isdigit()):
        return None, f"Enter a whole number of years for {record_class.label.lower()}s."
    years = int(text)
    if years < limit.least:
        return None, (
            f"{record_class.label}s must be kept at least {limit.least} years from "
            f"{limit.counted_from}: that is the national guidance."
        )
    if years > limit.most:
        return None, f"Enter {limit.most} years or fewer."
    return years, ""


# Year groups as numbers: a pupil in Year N turns N + 5 during the school year.
_YEAR_NUMBER = {"Nursery": -1, "Reception": 0, **{f"Year {n}": n for n in range(1, 14)}}


def classes_of(
    incident_type: IncidentType, details: Mapping[str, Any], safeguarding: bool
) -> tuple[RecordClass, ...]:
    """The record classes a case belongs to, most protective first."""
    found: list[RecordClass] = []
    if incident_type == IncidentType.PUPIL_CONTACT:
        found.append(RecordClass.PUPIL)
    elif incident_type == IncidentType.STAFF_CONDUCT:
        found.append(RecordClass.STAFF)
    elif incident_type == IncidentType.ONLINE_ABUSE:
        if details.get("target") == "pupil":
            found.append(RecordClass.PUPIL)
        if details.get("responsible") == "staff_member":
            found.append(RecordClass.STAFF)
    # Sexual images of a child: a child protection record, whatever else the case is.
    if safeguarding and RecordClass.PUPIL not in found:
        found.insert(0, RecordClass.PUPIL)
    return tuple(found) or (RecordClass.OTHER,)


def add_years(day: date, years: int) -> date:
    """The same day `years` later; 29 February becomes 28 February in other years."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def school_year_start(day: date) -> int:
    """The calendar year the school year containing `day` began in (1 September)."""
    return day.year if day.month >= 9 else day.year - 1


def latest_birth_date(year_group: str, on: date) -> date | None:
    """The latest date of birth a pupil in `year_group` on `on` can have (England)."""
    number = _YEAR_NUMBER.get(year_group)
    if number is None:
        return None
    return date(school_year_start(on) - number - 4, 8, 31)


def parse_birth_date(value: Any) -> date | None:
    """A stored date of birth (ISO 8601), or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


@dataclass(frozen=True)
class CaseDates:
    """What a case says that its review date rests on."""

    incident_type: IncidentType
    details: Mapping[str, Any]
    safeguarding: bool
    occurred_on: date
    opened_on: date
    closed_on: date


@dataclass(frozen=True)
class Review:
    """When a case is due for review, and how that date was reached, in words."""

    on: date
    classes: tuple[RecordClass, ...]
    basis: str


def _pupil_date(case: CaseDates, years: int) -> tuple[date, str]:
    born = parse_birth_date(case.details.get("pupil_date_of_birth"))
    if born is not None:
        return add_years(born, years), f"the pupil's date of birth ({born:%-d %B %Y}) + {years}"
    group = str(case.details.get("pupil_year_group") or "")
    latest = latest_birth_date(group, case.occurred_on)
    if latest is not None:
        return add_years(latest, years), (
            f"no date of birth recorded: the latest birth date of a pupil in {group} then "
            f"({latest:%-d %B %Y}) + {years}"
        )
    return add_years(case.closed_on, years), (
        f"no date of birth or year group recorded: the closing date + {years}"
    )


def review_of(case: CaseDates, rules: RetentionRules = DEFAULT_RULES) -> Review:
    """The case's review date under the school's rules: the latest its classes give."""
    classes = classes_of(case.incident_type, case.details, case.safeguarding)
    dated: list[tuple[date, str]] = []
    for record_class in classes:
        years = rules.years(record_class)
        if record_class == RecordClass.PUPIL:
            dated.append(_pupil_date(case, years))
        elif record_class == RecordClass.STAFF:
            dated.append(
                (
                    add_years(case.opened_on, years),
                    f"the date of the allegation ({case.opened_on:%-d %B %Y}) + {years}",
                )
            )
        else:
            dated.append(
                (
                    add_years(case.closed_on, years),
                    f"the closing date ({case.closed_on:%-d %B %Y}) + {years}",
                )
            )
    on, basis = max(dated)
    return Review(on=on, classes=classes, basis=f"{basis} years")
