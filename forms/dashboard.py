"""The dashboard's date range: the first and last day to count, checked in plain words."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar

from pydantic import ValidationInfo, field_validator

from forms.common import CaseForm

EARLIEST = date(2000, 1, 1)
MOST_DAYS = 6 * 366  # six years: a chart of more months than that is no longer readable
# Browsers without a date picker send what was typed: ISO, or the way people write dates here.
FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y")


def read_date(value: Any, which: str) -> date:
    """A date from the form, or ValueError saying how to write one."""
    if isinstance(value, date):
        return value
    text = str(value or "").strip()
    if not text:
        raise ValueError(f"Enter the {which} day.")
    for fmt in FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(f"Enter the {which} day as a real date, for example 1/9/2026.")


class DateRangeForm(CaseForm):
    start: date
    end: date

    messages: ClassVar[dict[str, str]] = {
        "start": "Enter the first day as a real date, for example 1/9/2026.",
        "end": "Enter the last day as a real date, for example 31/12/2026.",
    }

    @field_validator("start", mode="before")
    @classmethod
    def _start(cls, value: Any) -> date:
        found = read_date(value, "first")
        if found < EARLIEST:
            raise ValueError("Choose a first day from 1 January 2000 onwards.")
        return found

    @field_validator("end", mode="before")
    @classmethod
    def _end(cls, value: Any, info: ValidationInfo) -> date:
        found = read_date(value, "last")
        start = info.data.get("start")
        if isinstance(start, date):
            if found < start:
                raise ValueError("The last day must be the same as the first day or after it.")
            if (found - start).days > MOST_DAYS:
                raise ValueError("Choose dates no more than six years apart.")
        return found
