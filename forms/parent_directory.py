"""Checking a CSV file of parents and carers exported by the school's MIS, without saving it.

The file is checked whole before anything is written: every bad line is reported by its
line number in plain English, and a file with any bad line imports nothing. Two lines for
the same parent are refused too. `db.parent_directory` saves the rows a good file gives.
The header format is described in docs/parent-directory.md.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator

from core.enums import ContactBy
from core.parent_directory import ImportResult, ParentRow, home_key
from core.progress import Progress, report
from core.rules import YEAR_GROUPS, looks_like_email

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
    return columns, ignored, problems + missing_columns(columns, line)


def missing_columns(columns: dict[str, int], line: int) -> list[str]:
    """A problem for each column the import cannot do without."""
    return [
        f"Line {line}: the header has no column for {LABELS[name]}. The first line must "
        "name the columns, for example: name, email, year groups, preferred contact, "
        "postal address."
        for name in REQUIRED
        if name not in columns
    ]


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


# The checks below return problems without their line number: `check_row` adds it.


def name_problems(name: str) -> list[str]:
    if not name:
        return ["the parent's name is missing."]
    if len(name) > MAX_NAME:
        return [f"the name is longer than {MAX_NAME} characters."]
    return []


def email_problems(typed: str) -> list[str]:
    email = typed.lower()
    if email and not looks_like_email(email):
        return [f"the email address '{typed}' is not valid."]
    return []


def years_of(raw: str) -> tuple[list[str], list[str]]:
    """The year groups in the cell, and a problem for each part that is not one."""
    years, bad_years = parse_years(raw)
    problems = [
        f"'{bad}' is not a year group; use Nursery, Reception or Year 1 to Year 13."
        for bad in bad_years
    ]
    if not years and not bad_years:
        problems.append("the year group of the children is missing.")
    return years, problems


def contact_of(typed: str, email: str | None) -> tuple[ContactBy, list[str]]:
    """How the parent wants letters; left empty, email when there is an address, else post."""
    contact = CONTACT_WORDS.get(typed.casefold())
    problems = []
    if typed and contact is None:
        problems.append(f"the preferred contact '{typed}' is not one we know; write email or post.")
    if contact is None:
        contact = ContactBy.EMAIL if email else ContactBy.POST
    return contact, problems


def address_problems(address: str) -> list[str]:
    if len(address) > MAX_ADDRESS:
        return [f"the postal address is longer than {MAX_ADDRESS} characters."]
    if address and len(address.splitlines()) < 2:
        return [
            f"the postal address '{address}' is too short to post a letter to; "
            "give at least the street and the postcode."
        ]
    return []


def reach_problems(
    who: str, contact: ContactBy, asked: bool, email: str | None, address: str
) -> list[str]:
    """A letter must have a way to reach them; `asked` is whether the file said how."""
    if contact == ContactBy.EMAIL and not email and asked:
        return [f"{who} prefers email, but there is no email address."]
    if contact == ContactBy.POST and not address:
        reason = "prefers post" if asked else "has no email address"
        return [f"{who} {reason}, but there is no postal address."]
    return []


def check_row(line: int, cells: dict[str, str]) -> tuple[ParentRow | None, list[str]]:
    """A valid row, or every problem with it in plain English."""
    name = clean(cells.get(NAME, "").replace("\n", " "))
    typed_email = clean(cells.get(EMAIL, ""))
    email = typed_email.lower() or None
    years, year_problems = years_of(cells.get(YEARS, ""))
    typed_contact = clean(cells.get(CONTACT, ""))
    contact, contact_problems = contact_of(typed_contact, email)
    address = address_of(cells)
    problems = [
        *name_problems(name),
        *email_problems(typed_email),
        *year_problems,
        *contact_problems,
        *address_problems(address),
        *reach_problems(name or "the parent", contact, bool(typed_contact), email, address),
    ]
    if problems:
        return None, [f"Line {line}: {problem}" for problem in problems]
    return ParentRow(line, name, email, ", ".join(years), contact, address), []


# --- Checking the whole file ---------------------------------------------------------------


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
    (header_line, header), body = all_records[0], all_records[1:]
    columns, result.ignored_columns, result.errors = map_header(header, header_line)
    if result.errors:
        return [], result
    if not body:
        result.errors.append("The file has a header but no parents under it.")
        return [], result
    rows = check_lines(body, len(header), columns, result, progress)
    result.rows = len(rows)
    return rows, result


def check_lines(
    body: list[tuple[int, list[str]]],
    width: int,
    columns: dict[str, int],
    result: ImportResult,
    progress: Progress | None,
) -> list[ParentRow]:
    """The valid rows under the header; every problem goes into `result.errors`."""
    rows: list[ParentRow] = []
    seen_email: dict[str, int] = {}
    seen_home: dict[tuple[str, str], int] = {}
    for done, (line, record) in enumerate(body, start=1):
        if len(record) > width:
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
        report(progress, "checking", done, len(body))
    return rows


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
