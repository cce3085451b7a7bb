"""Forms about keeping records: the school's retention rules, a later review date, a legal
hold or its release, a disposal, and whom a subject access export is about."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from core.retention import RecordClass, RetentionRules, problem_with_years
from forms.common import reason_problem

MAX_NAME = 200


def check_rules(posted: Mapping[str, str]) -> tuple[RetentionRules | None, dict[str, str]]:
    """The school's years for each record class, or the problem with each field."""
    values: dict[str, int] = {}
    errors: dict[str, str] = {}
    for record_class in RecordClass:
        years, problem = problem_with_years(record_class, posted.get(record_class.value, ""))
        if years is None:
            errors[record_class.value] = problem
        else:
            values[record_class.value] = years
    return (None, errors) if errors else (RetentionRules(**values), {})


def check_reason(posted: Mapping[str, str], field: str) -> tuple[str, dict[str, str]]:
    """The reason given (as `field`: each form on the page has its own) for a hold, a
    release, a later date or a disposal."""
    reason = posted.get(field, "").strip()
    problem = reason_problem(reason)
    return reason, ({field: problem} if problem else {})


def check_keep(posted: Mapping[str, str]) -> tuple[date | None, str, dict[str, str]]:
    """The new review date and why."""
    reason, errors = check_reason(posted, "keep_reason")
    raw = posted.get("until", "").strip()
    until = None
    if not raw:
        errors["until"] = "Enter the date to keep the case until."
    else:
        try:
            until = date.fromisoformat(raw)
        except ValueError:
            errors["until"] = "Enter the date as a date, for example 2040-07-31."
    return until, reason, errors


def check_dispose(posted: Mapping[str, str], reference: str) -> tuple[str, dict[str, str]]:
    """The reason for disposing of a case, and its reference typed again to confirm."""
    reason, errors = check_reason(posted, "dispose_reason")
    if posted.get("confirm", "").strip().upper() != reference.upper():
        errors["confirm"] = (
            f"Type the case's reference, {reference}, to confirm: disposal cannot be undone."
        )
    return reason, errors


def check_subject(posted: Mapping[str, str]) -> tuple[int | None, str, dict[str, str]]:
    """Whom the export is about: someone Casework knows (by number), or a name."""
    raw_id = posted.get("person", "").strip()
    name = " ".join(posted.get("name", "").split())
    if raw_id:
        if not (raw_id.isascii() and raw_id.isdigit()):
            return None, "", {"person": "Choose the person from the list."}
        return int(raw_id), "", {}
    if len(name) < 3:
        return (
            None,
            name,
            {"name": "Choose a person from the list, or type a name of 3 characters or more."},
        )
    if len(name) > MAX_NAME:
        return None, name, {"name": f"Keep the name to {MAX_NAME} characters."}
    return None, name, {}
