"""Checking people and schools as an administrator enters them, one at a time or as a CSV.

Pure validation with plain-English messages; saving is services/people.py and db/.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import ClassVar

from pydantic import field_validator

from core.enums import Phase, Role
from core.progress import Progress, report
from core.rules import MAX_EMAIL, looks_like_email
from forms.common import CaseForm, validate

# Parents come from the parent directory import, never from here.
STAFF_CHOICES = tuple(r for r in Role if r != Role.PARENT)
IMPORT_COLUMNS = ("name", "email", "role", "job_title")
MAX_IMPORT_ROWS = 5000


def role_from(value: str) -> Role:
    """A role from its stored value or the words people use for it ("Headteacher")."""
    wanted = value.strip().lower()
    for role in STAFF_CHOICES:
        if wanted in (role.value, role.label.lower()):
            return role
    names = ", ".join(r.label for r in STAFF_CHOICES)
    raise ValueError(f"Choose one of the roles Casework knows: {names}.")


class PersonForm(CaseForm):
    """A member of staff, governor, adviser or administrator."""

    name: str
    email: str
    role: str
    job_title: str = ""
    messages: ClassVar[dict[str, str]] = {
        "name": "Enter the person's full name.",
        "email": "Enter their school email address, like name@school.example.",
        "role": "Choose a role.",
        "job_title": "Keep the job title under 200 characters.",
    }

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not 1 <= len(value) <= 200:
            raise ValueError("Enter the person's full name (up to 200 characters).")
        return value

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if len(value) > MAX_EMAIL or not looks_like_email(value):
            raise ValueError("Enter their email address, like name@school.example.")
        return value.lower()

    @field_validator("role")
    @classmethod
    def _role(cls, value: str) -> str:
        return role_from(value).value

    @field_validator("job_title")
    @classmethod
    def _job_title(cls, value: str) -> str:
        if len(value) > 200:
            raise ValueError("Keep the job title under 200 characters.")
        return value

    @property
    def chosen_role(self) -> Role:
        return Role(self.role)


class SchoolForm(CaseForm):
    """A school's letterhead and phase."""

    name: str
    address: str = ""
    email: str = ""
    phone: str = ""
    phase: str = Phase.PRIMARY.value
    messages: ClassVar[dict[str, str]] = {
        "name": "Enter the school's name.",
        "phase": "Choose the school's phase.",
    }

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not 2 <= len(value) <= 200:
            raise ValueError("Enter the school's name (2 to 200 characters).")
        return value

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        if len(value) > 1000:
            raise ValueError("Keep the address under 1,000 characters.")
        return value

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        if value and (len(value) > MAX_EMAIL or not looks_like_email(value)):
            raise ValueError("Enter the school office's email address, or leave it empty.")
        return value

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str) -> str:
        if len(value) > 50 or any(ch not in "0123456789 +()-" for ch in value):
            raise ValueError("Enter a phone number using digits, spaces, + ( ) and -.")
        return value

    @field_validator("phase")
    @classmethod
    def _phase(cls, value: str) -> str:
        if value not in {p.value for p in Phase}:
            raise ValueError("Choose the school's phase.")
        return value


@dataclass(frozen=True)
class PersonLine:
    """One good line of a people file: the person, and the line of the file they are on."""

    line: int
    person: PersonForm


@dataclass
class PeopleFile:
    """What a people CSV holds: the checked lines, or every problem by line number."""

    rows: list[PersonLine] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def check_people_file(data: bytes, progress: Progress | None = None) -> PeopleFile:
    """Read a CSV of people (name, email, role, job_title); any bad line fails the whole file.

    `progress` hears how many lines have been checked, as the parent import's check does.
    """
    result = PeopleFile()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        result.errors.append("The file is not UTF-8 text. Save it from your system as CSV UTF-8.")
        return result
    reader = csv.DictReader(io.StringIO(text))
    headers = [h.strip().lower() for h in reader.fieldnames or []]
    missing = [c for c in IMPORT_COLUMNS[:3] if c not in headers]
    if missing:
        result.errors.append(
            "The first line must name the columns name, email, role and (optionally) "
            f"job_title; missing: {', '.join(missing)}."
        )
        return result
    records = list(reader)
    if len(records) > MAX_IMPORT_ROWS:
        result.errors.append(
            f"The file has {len(records):,} lines of people; Casework imports at most "
            f"{MAX_IMPORT_ROWS:,} at a time. Split it into smaller files."
        )
        return result
    seen: dict[str, int] = {}
    for done, raw in enumerate(records, start=1):
        report(progress, "checking", done, len(records))
        line = done + 1  # the first line names the columns
        row = {str(k).strip().lower(): (v or "").strip() for k, v in raw.items() if k}
        if not any(row.values()):
            continue
        values = {c: row.get(c, "") for c in IMPORT_COLUMNS}
        person, errors = validate(PersonForm, values)
        for name, message in errors.items():
            result.errors.append(f"Line {line}, {name}: {message}")
        if person is None:
            continue
        if person.email in seen:
            result.errors.append(
                f"Line {line}: {person.email} is also on line {seen[person.email]}."
            )
            continue
        seen[person.email] = line
        result.rows.append(PersonLine(line, person))
    if not result.rows and not result.errors:
        result.errors.append("The file has no people in it.")
    return result
