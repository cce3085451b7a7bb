"""Correcting what was reported: which answers may change after intake, and their checks.

Only the record's facts may be corrected (names, times, accounts, year groups, the account
of what happened). Answers that chose the procedure's path (who is responsible, what kind of
content, whether a child is at risk) are not: a wrong one is dealt with by withdrawing the
case and reporting it again, or by redoing a step after reopening.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from core.enums import IncidentType
from core.rules import PLATFORMS, YEAR_GROUPS
from forms.common import LONDON, parse_local_time, reason_problem


@dataclass(frozen=True)
class Correctable:
    """One answer the case lead may correct; `choices` limits it to a list."""

    name: str
    label: str
    max_length: int = 200
    required: bool = True
    long: bool = False
    choices: tuple[str, ...] = ()
    date: bool = False  # a day, kept as YYYY-MM-DD


PLATFORM = Correctable("platform", "Platform", max_length=60)
OCCURRED = Correctable("occurred_at", "When it happened")
DESCRIPTION = Correctable("description", "What happened", max_length=5000, long=True)
COMMON = (PLATFORM, OCCURRED, DESCRIPTION)
YEARS = ("", *YEAR_GROUPS)
# Not asked at intake (the reporter rarely knows it): the case lead adds it here, and the
# case is then kept until the pupil is 25 (core/retention.py) instead of an estimate.
BIRTH_DATE = Correctable("pupil_date_of_birth", "Pupil's date of birth", required=False, date=True)
EARLIEST_BIRTH = date(1990, 1, 1)
BY_TYPE: dict[IncidentType, tuple[Correctable, ...]] = {
    IncidentType.PUPIL_CONTACT: (
        Correctable("pupil_name", "Pupil's name"),
        Correctable("pupil_year_group", "Pupil's year group", choices=YEAR_GROUPS),
        Correctable("pupil_reference", "Admission number or UPN", 40, required=False),
        Correctable("pupil_account", "Pupil's account name or link", 300, required=False),
        BIRTH_DATE,
    ),
    IncidentType.PARENT_CONTACT: (
        Correctable("parent_name", "Parent's name"),
        Correctable("child_year_group", "Child's year group", required=False, choices=YEARS),
    ),
    IncidentType.ONLINE_ABUSE: (
        Correctable("target_name", "Who was targeted (name)", required=False),
        Correctable("links", "Links to the posts", 3000, long=True),
        Correctable("responsible_name", "Who is responsible (name)", required=False),
        Correctable(
            "pupil_date_of_birth",
            "Date of birth of the pupil targeted, if a pupil was",
            required=False,
            date=True,
        ),
    ),
    IncidentType.STAFF_CONDUCT: (
        Correctable("subject_account", "The staff member's account", 300, required=False),
    ),
}


def correctable(kind: IncidentType) -> tuple[Correctable, ...]:
    return COMMON + BY_TYPE[kind]


def as_typed(value: Any) -> str:
    """A stored answer as the form shows it: times as datetime-local values in UK time."""
    if isinstance(value, datetime):
        return value.astimezone(LONDON).strftime("%Y-%m-%dT%H:%M")
    return str(value or "")


def check_value(field: Correctable, raw: str) -> tuple[Any, str]:
    """The value to store and "", or None and what is wrong with `raw`."""
    value = raw.strip()
    if field is OCCURRED:
        try:
            return parse_local_time(value), ""
        except ValueError as exc:
            return None, str(exc)
    if field is PLATFORM:
        if value not in PLATFORMS.values():
            return None, "Choose the platform from the list."
        return value, ""
    if field.date:
        return check_birth_date(field, value)
    if field.required and not value:
        return None, f"Enter {field.label.lower()}: it cannot be left empty."
    if len(value) > field.max_length:
        return None, f"{field.label} can be at most {field.max_length:,} characters."
    if field is DESCRIPTION and len(value) < 10:
        return None, "Describe what happened in at least 10 characters."
    if field.choices and value not in field.choices:
        return None, f"Choose {field.label.lower()} from the list."
    return value, ""


def check_birth_date(field: Correctable, value: str) -> tuple[Any, str]:
    """A pupil's date of birth as YYYY-MM-DD (or nothing), within a pupil's lifetime."""
    if not value:
        return "", ""
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return None, f"Enter {field.label.lower()} as a date, for example 2014-03-27."
    if not EARLIEST_BIRTH <= day <= datetime.now(LONDON).date():
        return None, f"{field.label} must be between 1990 and today."
    return day.isoformat(), ""


@dataclass(frozen=True)
class Change:
    field: Correctable
    before: Any
    after: Any


def check_corrections(
    kind: IncidentType, current: dict[str, Any], posted: dict[str, str]
) -> tuple[list[Change], str, dict[str, str]]:
    """The answers that changed, the reason, and every problem keyed by field name.

    `current` holds each correctable answer as stored; unchanged answers are not checked
    again, so a rule added since intake does not block correcting something else.
    """
    errors: dict[str, str] = {}
    changes: list[Change] = []
    for field in correctable(kind):
        raw = posted.get(field.name)
        if raw is None:
            continue
        before = current.get(field.name)
        if raw.strip() == as_typed(before):
            continue
        value, problem = check_value(field, raw)
        if problem:
            errors[field.name] = problem
        else:
            changes.append(Change(field, before, value))
    reason = posted.get("reason", "").strip()
    if reason_problem(reason):
        errors["reason"] = reason_problem(reason)
    if not changes and not errors:
        errors["form"] = "Nothing was changed. Change at least one answer, or go back to the case."
    return changes, reason, errors
