"""Importing parents and carers from a CSV file exported by the school's MIS.

The file is checked whole before anything is written: every bad line is reported by its
line number, and a file with any bad line imports nothing. A good file is written in one
transaction. Importing again updates the parents already known (matched by email address,
or by name and postal address for parents without one) instead of adding them twice.
The header format is described in docs/parent-directory.md.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.rules import YEAR_GROUPS, looks_like_email
from db.audit import record_event
from db.models import ContactBy, Person, Role
from db.schools import first_school
from db.session import transaction

# Called as progress(stage, done, total); stage is "checking" or "saving".
Progress = Callable[[str, int, int], None]

NAME, EMAIL, YEARS, CONTACT = "name", "email", "year_groups", "contact_by"
ADDRESS_PARTS = ("address", "address2", "address3", "town", "county", "postcode")
REQUIRED = (NAME, EMAIL, YEARS)
LABELS = {
    NAME: "the parent's name",
    EMAIL: "the email address",
    YEARS: "the children's year groups",
}

# Header spellings seen in MIS exports, compared without case, spaces or punctuation.
HEADERS: dict[str, str] = {
    **dict.fromkeys(
        ("name", "fullname", "parentname", "carername", "parentcarername", "contactname"), NAME
    ),
    **dict.fromkeys(
        ("email", "emailaddress", "parentemail", "contactemail", "primaryemail"), EMAIL
    ),
    **dict.fromkeys(
        (
            "yeargroup",
            "yeargroups",
            "year",
            "years",
            "childyeargroup",
            "childyeargroups",
            "childrensyeargroups",
            "childrenyeargroups",
            "childsyeargroup",
            "childsyeargroups",
        ),
        YEARS,
    ),
    **dict.fromkeys(
        (
            "preferredcontact",
            "contactpreference",
            "preferredcontactmethod",
            "contactmethod",
            "contactby",
            "preferredcontactby",
        ),
        CONTACT,
    ),
    **dict.fromkeys(
        ("postaladdress", "address", "homeaddress", "addressline1", "address1", "street"),
        "address",
    ),
    **dict.fromkeys(("addressline2", "address2"), "address2"),
    **dict.fromkeys(("addressline3", "address3", "locality"), "address3"),
    **dict.fromkeys(("town", "city", "towncity", "posttown"), "town"),
    "county": "county",
    **dict.fromkeys(("postcode", "postalcode", "zip"), "postcode"),
}

CONTACT_WORDS = {
    **dict.fromkeys(("email", "e-mail", "emails", "by email", "by e-mail"), ContactBy.EMAIL),
    **dict.fromkeys(("post", "postal", "by post", "letter", "paper", "printed"), ContactBy.POST),
}
YEAR_RE = re.compile(r"^(?:years?|yrs?|y)?\s*(\d{1,2})$")
SPECIAL_YEARS = {
    **dict.fromkeys(("n", "nursery", "nur", "fs1"), "Nursery"),
    **dict.fromkeys(("r", "reception", "rec", "fs2", "yr r", "year r"), "Reception"),
}
MAX_NAME, MAX_ADDRESS = 200, 500
PROGRESS_EVERY = 250


@dataclass(frozen=True)
class ParentRow:
    """One valid line of the file, ready to save."""

    line: int
    name: str
    email: str | None
    year_groups: str
    contact_by: ContactBy
    postal_address: str


@dataclass
class ImportResult:
    """What an import did, or why it did nothing."""

    rows: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        if not self.ok:
            return f"Nothing was imported: {len(self.errors)} problems were found in the file."
        return (
            f"Imported {self.rows:,} parents and carers: {self.added:,} added, "
            f"{self.updated:,} updated, {self.unchanged:,} unchanged."
        )


class FileProblem(ValueError):
    """The file as a whole cannot be read (not its individual lines)."""


# --- Reading the file ------------------------------------------------------------------


def decode(data: bytes) -> str:
    """UTF-8 (with or without Excel's byte-order mark), else Windows-1252, as Excel saves."""
    if b"\x00" in data[:4096]:
        raise FileProblem("This is not a CSV file. Export the parent list as CSV and try again.")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def delimiter_of(first_line: str) -> str:
    """Commas unless the header plainly uses semicolons or tabs (some European exports)."""
    counts = {d: first_line.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def header_key(title: str) -> str:
    return re.sub(r"[^a-z0-9]", "", title.casefold())


def map_header(header: list[str], line: int = 1) -> tuple[dict[str, int], list[str], list[str]]:
    """Column index per field, the columns we ignore, and any problems with the header."""
    columns: dict[str, int] = {}
    ignored: list[str] = []
    problems: list[str] = []
    for index, title in enumerate(header):
        name = HEADERS.get(header_key(title))
        if name is None:
            if title.strip():
                ignored.append(title.strip())
            continue
        if name in columns:
            first = header[columns[name]].strip()
            problems.append(
                f"Line {line}: the columns '{first}' and '{title.strip()}' both hold "
                f"{LABELS.get(name, 'the postal address')}; keep only one of them."
            )
            continue
        columns[name] = index
    for name in REQUIRED:
        if name not in columns:
            problems.append(
                f"Line {line}: the header has no column for {LABELS[name]}. The first line must "
                "name the columns, for example: name, email, year groups, preferred contact, "
                "postal address."
            )
    return columns, ignored, problems


def records(text: str) -> Iterator[tuple[int, list[str]]]:
    """Each record with the line it starts on (a quoted address may span several lines)."""
    first_line = text.lstrip("\r\n").partition("\n")[0]
    reader = csv.reader(io.StringIO(text), delimiter=delimiter_of(first_line))
    ended = 0
    for record in reader:
        start, ended = ended + 1, reader.line_num
        if any(cell.strip() for cell in record):
            yield start, record


# --- Checking one line -------------------------------------------------------------------


def clean(value: str) -> str:
    return re.sub(r"[ \t]+", " ", value.replace("\r", "")).strip()


def parse_years(raw: str) -> tuple[list[str], list[str]]:
    """Year groups in school order, and the parts that are not year groups."""
    found: set[str] = set()
    bad: list[str] = []
    for part in re.split(r"[,;/&+|]|\band\b", raw, flags=re.IGNORECASE):
        token = clean(part).casefold().rstrip(".")
        if not token:
            continue
        if token in SPECIAL_YEARS:
            found.add(SPECIAL_YEARS[token])
            continue
        match = YEAR_RE.match(token)
        if match and 1 <= int(match.group(1)) <= 13:
            found.add(f"Year {int(match.group(1))}")
        else:
            bad.append(clean(part))
    return sorted(found, key=YEAR_GROUPS.index), bad


def address_of(cells: dict[str, str]) -> str:
    """The postal address as lines; commas in a one-cell address also start new lines."""
    lines: list[str] = []
    for part in ADDRESS_PARTS:
        for piece in re.split(r"[\n,]", cells.get(part, "")):
            if clean(piece):
                lines.append(clean(piece))
    return "\n".join(lines)


def check_row(line: int, cells: dict[str, str]) -> tuple[ParentRow | None, list[str]]:
    """A valid row, or every problem with it in plain English."""
    problems: list[str] = []
    name = clean(cells.get(NAME, "").replace("\n", " "))
    typed_email = clean(cells.get(EMAIL, ""))
    email = typed_email.lower() or None
    address = address_of(cells)
    who = name or "the parent"
    if not name:
        problems.append(f"Line {line}: the parent's name is missing.")
    elif len(name) > MAX_NAME:
        problems.append(f"Line {line}: the name is longer than {MAX_NAME} characters.")
    if email is not None and not looks_like_email(email):
        problems.append(f"Line {line}: the email address '{typed_email}' is not valid.")
    years, bad_years = parse_years(cells.get(YEARS, ""))
    for bad in bad_years:
        problems.append(
            f"Line {line}: '{bad}' is not a year group; use Nursery, Reception or "
            "Year 1 to Year 13."
        )
    if not years and not bad_years:
        problems.append(f"Line {line}: the year group of the children is missing.")
    raw_contact = clean(cells.get(CONTACT, "")).casefold()
    contact = CONTACT_WORDS.get(raw_contact)
    if raw_contact and contact is None:
        problems.append(
            f"Line {line}: the preferred contact '{clean(cells.get(CONTACT, ''))}' is not "
            "one we know; write email or post."
        )
    if contact is None:
        contact = ContactBy.EMAIL if email else ContactBy.POST
    if len(address) > MAX_ADDRESS:
        problems.append(f"Line {line}: the postal address is longer than {MAX_ADDRESS} characters.")
    elif address and len(address.splitlines()) < 2:
        problems.append(
            f"Line {line}: the postal address '{address}' is too short to post a letter to; "
            "give at least the street and the postcode."
        )
    if contact == ContactBy.EMAIL and not email and raw_contact:
        problems.append(f"Line {line}: {who} prefers email, but there is no email address.")
    if contact == ContactBy.POST and not address:
        reason = "prefers post" if raw_contact else "has no email address"
        problems.append(f"Line {line}: {who} {reason}, but there is no postal address.")
    if problems:
        return None, problems
    return ParentRow(line, name, email, ", ".join(years), contact, address), []


def _loose(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.casefold()).strip()


def home_key(name: str, address: str) -> tuple[str, str]:
    """Name and address compared without case, spacing or punctuation."""
    return _loose(name), _loose(address)


def check_file(
    data: bytes, progress: Progress | None = None
) -> tuple[list[ParentRow], ImportResult]:
    """Every row of the file checked; the result lists problems and ignored columns."""
    result = ImportResult()
    try:
        text = decode(data)
    except FileProblem as problem:
        result.errors.append(str(problem))
        return [], result
    all_records = list(records(text))
    if not all_records:
        result.errors.append("The file is empty: there is no header line and no parent.")
        return [], result
    header_line, header = all_records[0]
    columns, result.ignored_columns, result.errors = map_header(header, header_line)
    if result.errors:
        return [], result
    body = all_records[1:]
    if not body:
        result.errors.append("The file has a header but no parents under it.")
        return [], result
    rows: list[ParentRow] = []
    seen_email: dict[str, int] = {}
    seen_home: dict[tuple[str, str], int] = {}
    for done, (line, record) in enumerate(body, start=1):
        if len(record) > len(header):
            result.errors.append(
                f"Line {line}: there are more values than columns in the header; an address "
                "with commas in it must be in quotes."
            )
            continue
        cells = {name: record[i] if i < len(record) else "" for name, i in columns.items()}
        row, problems = check_row(line, cells)
        result.errors.extend(problems)
        if row is not None:
            result.errors.extend(duplicate_problems(row, seen_email, seen_home))
            rows.append(row)
        if progress and (done % PROGRESS_EVERY == 0 or done == len(body)):
            progress("checking", done, len(body))
    result.rows = len(rows)
    return rows, result


def duplicate_problems(
    row: ParentRow, seen_email: dict[str, int], seen_home: dict[tuple[str, str], int]
) -> list[str]:
    """A parent listed twice would get two letters; say where the first one is."""
    if row.email:
        if row.email in seen_email:
            return [
                f"Line {row.line}: the email address '{row.email}' is already on line "
                f"{seen_email[row.email]}; each parent needs their own address, or leave it "
                "blank for one of them."
            ]
        seen_email[row.email] = row.line
        return []
    key = home_key(row.name, row.postal_address)
    if key in seen_home:
        return [
            f"Line {row.line}: {row.name} at the same postal address is already on line "
            f"{seen_home[key]}."
        ]
    seen_home[key] = row.line
    return []


# --- Saving ----------------------------------------------------------------------------


def apply_row(person: Person, row: ParentRow) -> bool:
    """Copy the row onto a known parent; True if anything changed."""
    wanted = {
        "name": row.name,
        "email": row.email,
        "year_groups": row.year_groups,
        "contact_by": row.contact_by,
        "postal_address": row.postal_address,
        "active": True,
    }
    changed = False
    for attr, value in wanted.items():
        if getattr(person, attr) != value:
            setattr(person, attr, value)
            changed = True
    return changed


class Directory:
    """The school's known parents, indexed the two ways an import matches them."""

    def __init__(self, parents: list[Person]) -> None:
        self.by_email = {p.email.lower(): p for p in parents if p.email}
        self.by_home: dict[tuple[str, str], list[Person]] = {}
        # Parents without an email first: they are the ones matched by name and address.
        for parent in sorted(parents, key=lambda p: (bool(p.email), p.id)):
            if parent.postal_address.strip():
                key = home_key(parent.name, parent.postal_address)
                self.by_home.setdefault(key, []).append(parent)
        self.claimed: set[int] = set()

    def _by_email(self, row: ParentRow) -> Person | None:
        found = self.by_email.get(row.email) if row.email else None
        if found is not None:
            self.claimed.add(found.id)
        return found

    def _by_home(self, row: ParentRow) -> Person | None:
        for candidate in self.by_home.get(home_key(row.name, row.postal_address), []):
            # With an email in the row, only a parent who had none can be them.
            if candidate.id in self.claimed or (row.email and candidate.email):
                continue
            self.claimed.add(candidate.id)
            return candidate
        return None

    def match_all(self, rows: list[ParentRow]) -> list[Person | None]:
        """The known parent each row describes, or None; nobody is matched twice.

        Email addresses are matched for every row first, so a name-and-address match can
        never take a parent whose own address is further down the file.
        """
        by_email = [self._by_email(row) for row in rows]
        return [found or self._by_home(row) for row, found in zip(rows, by_email, strict=True)]


def save_rows(
    session: Session,
    school_id: int,
    rows: list[ParentRow],
    result: ImportResult,
    progress: Progress | None = None,
) -> None:
    """Add or update every row in the caller's transaction."""
    directory = Directory(
        list(
            session.scalars(
                select(Person).where(Person.school_id == school_id, Person.role == Role.PARENT)
            )
        )
    )
    matches = directory.match_all(rows)
    for done, (row, person) in enumerate(zip(rows, matches, strict=True), start=1):
        if person is None:
            session.add(
                Person(
                    school_id=school_id,
                    role=Role.PARENT,
                    name=row.name,
                    email=row.email,
                    year_groups=row.year_groups,
                    contact_by=row.contact_by,
                    postal_address=row.postal_address,
                )
            )
            result.added += 1
        elif apply_row(person, row):
            result.updated += 1
        else:
            result.unchanged += 1
        if progress and (done % PROGRESS_EVERY == 0 or done == len(rows)):
            progress("saving", done, len(rows))
    session.flush()


def import_parents(
    session: Session,
    school_id: int,
    data: bytes,
    *,
    source: str = "",
    actor: Person | None = None,
    progress: Progress | None = None,
) -> ImportResult:
    """Check the whole file, then save it in the caller's transaction (or save nothing)."""
    rows, result = check_file(data, progress)
    if not result.ok:
        return result
    return save_import(
        session, school_id, rows, result, source=source, actor=actor, progress=progress
    )


def save_import(
    session: Session,
    school_id: int,
    rows: list[ParentRow],
    result: ImportResult,
    *,
    source: str = "",
    actor: Person | None = None,
    progress: Progress | None = None,
) -> ImportResult:
    """Save rows `check_file` passed, and record the import; fills in `result`'s counts."""
    save_rows(session, school_id, rows, result, progress)
    record_event(
        session,
        case_id=None,
        kind="parents.imported",
        actor=actor,
        data={
            "source": source,
            "rows": result.rows,
            "added": result.added,
            "updated": result.updated,
            "unchanged": result.unchanged,
        },
    )
    return result


def import_parents_file(
    path: Path, *, actor: Person | None = None, progress: Progress | None = None
) -> ImportResult:
    """Import a CSV file into the school, all in one transaction."""
    # Checked before the transaction opens: SQLite's other writers need not wait for it.
    rows, result = check_file(path.read_bytes(), progress)
    if not result.ok:
        return result
    with transaction() as session:
        school = first_school(session)
        if school is None:
            raise FileProblem("There is no school in Casework yet: set up the school first.")
        return save_import(
            session, school.id, rows, result, source=path.name, actor=actor, progress=progress
        )


class TextProgress:
    """A one-line progress bar per stage, redrawn in place on a terminal stream."""

    WIDTH = 30

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def __call__(self, stage: str, done: int, total: int) -> None:
        filled = self.WIDTH * done // max(total, 1)
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        end = "\n" if done >= total else ""
        self.stream.write(f"\r{stage.capitalize():9} [{bar}] {done:,}/{total:,}{end}")
        self.stream.flush()
