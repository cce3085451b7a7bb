"""Shared form machinery: plain-English errors, local times, evidence file checks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
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
    local = naive.replace(tzinfo=LONDON) if naive.tzinfo is None else naive
    when = local.astimezone(UTC)
    if when > datetime.now(UTC) + timedelta(minutes=5):
        raise ValueError("The date and time cannot be in the future.")
    if when.year < 2000:
        raise ValueError("Enter a date from the year 2000 onwards.")
    return when


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
    for f in files:
        if not f.data:
            return [], f"{f.filename} is empty. Attach the file again."
        if len(f.data) > max_bytes:
            return [], f"{f.filename} is larger than {max_bytes // (1024 * 1024)} MB."
        real = sniff(f.data)
        if real is None:
            return [], f"{f.filename} is not a file type we accept. Attach {ACCEPTED}."
        checked.append(UploadedFile(f.filename[-255:], real, f.data))
    return checked, None


MIN_REASON = 5
MAX_REASON = 1000


def reason_problem(reason: str) -> str:
    """What is wrong with the reason given for a change to a case, or ""."""
    if len(reason.strip()) < MIN_REASON:
        return "Give the reason: it is kept in the case's audit trail with the change."
    if len(reason) > MAX_REASON:
        return f"Keep the reason to {MAX_REASON:,} characters."
    return ""
