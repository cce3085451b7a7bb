"""Shared form machinery: plain-English errors, local times, evidence file checks."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as dt_time
from typing import Any, ClassVar, TypeVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, ValidationError

LONDON = ZoneInfo("Europe/London")


class CaseForm(BaseModel):
    """Base for every form: unknown fields refused; `messages` hold each field's plain error."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    messages: ClassVar[dict[str, str]] = {}


F = TypeVar("F", bound=CaseForm)


def validate(form: type[F], data: dict[str, Any]) -> tuple[F | None, dict[str, str]]:
    """The model, or every problem keyed by field name in words a person understands."""
    for name, field in form.model_fields.items():
        if field.annotation is datetime:
            data = join_date_parts(data, name)
    try:
        return form.model_validate(data), {}
    except ValidationError as exc:
        return None, errors_in_words(form, exc)


def errors_in_words(form: type[CaseForm], exc: ValidationError) -> dict[str, str]:
    errors: dict[str, str] = {}
    for err in exc.errors():
        field = str(err["loc"][0]) if err["loc"] else "form"
        if field in errors:
            continue
        if err["type"] == "value_error":
            errors[field] = str(err["msg"]).removeprefix("Value error, ")
        elif err["type"] == "extra_forbidden":
            errors[field] = "This form does not take that field."
        else:
            errors[field] = form.messages.get(field, "Check this answer.")
    return errors


def parse_local_time(value: str) -> datetime:
    """A browser's datetime-local value, read as UK time, returned in UTC."""
    try:
        naive = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("Enter the date and time in the form 22/11/2026 14:30.") from None
    return checked_local(naive)


def checked_local(naive: datetime) -> datetime:
    """A time read as UK time (unless it says its zone) in UTC, if not in the future."""
    local = naive.replace(tzinfo=LONDON) if naive.tzinfo is None else naive
    when = local.astimezone(UTC)
    if when > datetime.now(UTC) + timedelta(minutes=5):
        raise ValueError("The date and time cannot be in the future.")
    if when.year < 2000:
        raise ValueError("Enter a date from the year 2000 onwards.")
    return when


@dataclass(frozen=True)
class DateParts:
    """A date and time as typed into separate day, month, year and time boxes."""

    day: str = ""
    month: str = ""
    year: str = ""
    time: str = ""

    @property
    def empty(self) -> bool:
        return not (self.day or self.month or self.year or self.time)


PARTS = ("day", "month", "year", "time")
MONTHS = {
    name: number
    for number, month in enumerate(
        (
            *("january", "february", "march", "april", "may", "june", "july", "august"),
            *("september", "october", "november", "december"),
        ),
        start=1,
    )
    for name in (month, month[:3])
}
TIME = re.compile(r"^(\d{1,2})(?:[:.](\d{2}))?\s*(am|pm|a\.m\.|p\.m\.)?$")
SAID_TIMES = {"midday": (12, 0), "noon": (12, 0), "midnight": (0, 0)}
TIME_EXAMPLE = "for example 14:30 or 2:30pm"


def join_date_parts(data: dict[str, Any], name: str) -> dict[str, Any]:
    """`data` with the boxes of the date called `name` (name-day, name-month, name-year,
    name-time) joined into one DateParts under `name`; unchanged when there are none."""
    keys = [f"{name}-{part}" for part in PARTS]
    if not any(key in data for key in keys):
        return data
    joined = {k: v for k, v in data.items() if k not in keys}
    typed = {part: str(data.get(f"{name}-{part}") or "").strip() for part in PARTS}
    joined[name] = DateParts(**typed)
    return joined


def parse_date_parts(parts: DateParts) -> datetime:
    """The boxes read as UK time and returned in UTC; ValueError says what to put right."""
    missing = [p for p in ("day", "month", "year") if not getattr(parts, p)]
    if missing:
        raise ValueError(f"The date must include a {' and a '.join(missing)}.")
    month = MONTHS.get(parts.month.lower(), parts.month)
    if not (parts.day.isdigit() and str(month).isdigit() and parts.year.isdigit()):
        raise ValueError("Enter the date in numbers, for example 22 11 2026.")
    if len(parts.year) != 4:
        raise ValueError("Enter the year as 4 digits, for example 2026.")
    try:
        day = date(int(parts.year), int(month), int(parts.day))
    except ValueError:
        raise ValueError("Enter a real date, for example 22 11 2026.") from None
    hour, minute = parse_clock(parts.time)
    return checked_local(datetime.combine(day, dt_time(hour, minute)))


def parse_clock(text: str) -> tuple[int, int]:
    """A time of day as people write it: 14:30, 14.30, 2:30pm, 2pm, noon."""
    said = text.lower().replace(" ", "")
    if not said:
        raise ValueError(f"Enter the time, {TIME_EXAMPLE}.")
    if said in SAID_TIMES:
        return SAID_TIMES[said]
    found = TIME.match(said)
    if found is None:
        raise ValueError(f"Enter the time in hours and minutes, {TIME_EXAMPLE}.")
    hour, minute, half = int(found[1]), int(found[2] or 0), (found[3] or "").replace(".", "")
    if half and not 1 <= hour <= 12:
        raise ValueError(f"With am or pm, the hour is 1 to 12, {TIME_EXAMPLE}.")
    if half:
        hour = hour % 12 + (12 if half == "pm" else 0)
    if hour > 23 or minute > 59:
        raise ValueError(f"Enter a real time, {TIME_EXAMPLE}.")
    return hour, minute


@dataclass(frozen=True)
class UploadedFile:
    filename: str
    content_type: str
    data: bytes


# Screenshots and saved pages: the kinds of evidence staff capture.
SIGNATURES: tuple[tuple[bytes, int, str, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", 0, "image/png", "PNG image"),
    (b"\xff\xd8\xff", 0, "image/jpeg", "JPEG image"),
    (b"GIF87a", 0, "image/gif", "GIF image"),
    (b"GIF89a", 0, "image/gif", "GIF image"),
    (b"WEBP", 8, "image/webp", "WebP image"),
    (b"%PDF-", 0, "application/pdf", "PDF document"),
)
ACCEPTED = "PNG, JPEG, GIF or WebP screenshots, or PDF documents"


def sniff(data: bytes) -> str | None:
    """The content type the bytes really are, whatever the browser claimed."""
    for magic, offset, content_type, _ in SIGNATURES:
        if data[offset : offset + len(magic)] == magic:
            if content_type == "image/webp" and not data.startswith(b"RIFF"):
                continue
            return content_type
    return None


def check_evidence(
    files: list[UploadedFile], *, max_bytes: int, max_files: int, required: bool
) -> tuple[list[UploadedFile], str | None]:
    """Files typed by their content; an error message for the whole set, or None."""
    files = [f for f in files if f.filename or f.data]
    if not files:
        return [], ("Attach at least one screenshot or document as evidence." if required else None)
    if len(files) > max_files:
        return [], f"Attach no more than {max_files} files."
    checked: list[UploadedFile] = []
    problems: list[str] = []
    for f in files:
        real, problem = typed(f, max_bytes)
        if problem:
            problems.append(problem)
        else:
            checked.append(UploadedFile(f.filename[-255:], real, f.data))
    if problems:
        return [], " ".join(problems)
    return checked, None


def typed(f: UploadedFile, max_bytes: int) -> tuple[str, str]:
    """The file's type read from its content, and "" ; or "" and what is wrong, naming it."""
    if not f.data:
        return "", f"{f.filename} is empty: attach it again."
    if len(f.data) > max_bytes:
        return "", f"{f.filename} is larger than {max_bytes // (1024 * 1024)} MB."
    real = sniff(f.data)
    if real is None:
        return "", f"{f.filename} is not a file type we accept: attach {ACCEPTED}."
    return real, ""


MIN_REASON = 5
MAX_REASON = 1000


def reason_problem(reason: str) -> str:
    """What is wrong with the reason given for a change to a case, or ""."""
    if len(reason.strip()) < MIN_REASON:
        return "Give the reason: it is kept in the case's audit trail with the change."
    if len(reason) > MAX_REASON:
        return f"Keep the reason to {MAX_REASON:,} characters."
    return ""
