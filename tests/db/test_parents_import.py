"""Importing parents from the MIS's CSV: every bad line explained, all or nothing, no duplicates."""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from casework.cli import main as casework_cli
from casework.parents_file import import_parents_file
from core.settings import Settings
from db.models import AuditEvent, ContactBy, Person, Role
from db.session import transaction
from forms.parent_directory import check_file
from tests.support import count

HEADER = ["Name", "Email", "Year group(s)", "Preferred contact", "Postal address"]
DEMO_PARENTS = 50  # seeded by the `configured` fixture


def csv_bytes(rows: list[list[str]], header: list[str] = HEADER) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


def write(tmp_path: Path, data: bytes, name: str = "parents.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def parents(url: str) -> list[Person]:
    with transaction(url) as session:
        found = list(
            session.scalars(select(Person).where(Person.role == Role.PARENT).order_by(Person.id))
        )
        session.expunge_all()
        return found


def many_rows(n: int, start: int = 0) -> list[list[str]]:
    """`n` realistic parents: most by email, every seventh by post only."""
    rows = []
    for i in range(start, start + n):
        if i % 7 == 0:
            address = f"{i} Mill Road, Oakfield, OK{i % 9 + 1} {i % 10}AB"
            rows.append([f"Carer {i}", "", f"Year {i % 6 + 1}", "post", address])
        else:
            years = f"Year {i % 6 + 1}; Reception" if i % 5 == 0 else str(i % 13 + 1)
            rows.append([f"Parent {i}", f"parent.{i}@families.example", years, "email", ""])
    return rows


TOMASZ_HOME = "4 Mill Road, Oakfield, OK1 3CD"
GOOD = [
    ["Ayesha Begum", "Ayesha.Begum@Example.com", "Year 3, Year 6", "email", ""],
    ["Tomasz Nowak", "", "Reception", "post", TOMASZ_HOME],
    ["Grace Okoro", "grace.okoro@example.com", "Y2", "Post", "9 High Street\nOakfield\nOK2 1AA"],
]


def test_a_file_with_bad_lines_imports_nothing_and_names_every_bad_line(
    configured: Settings, tmp_path: Path
) -> None:
    rows = [
        *GOOD,  # lines 2-4 (line 4 spans two more lines: its address is quoted)
        ["Kwame Mensah", "x@", "Year 4", "email", ""],  # line 7
        ["", "nobody@example.com", "Year 1", "email", ""],  # line 8
        ["Lin Zhou", "lin@example.com", "Year 15", "email", ""],  # line 9
        ["Priya Nair", "", "Year 2", "post", ""],  # line 10
        ["Ravi Das", "ravi@example.com", "Year 5", "fax", ""],  # line 11
        ["Cara Byrne", "ayesha.begum@example.com", "Year 1", "email", ""],  # line 12
    ]
    result = import_parents_file(write(tmp_path, csv_bytes(rows)))

    assert not result.ok
    assert result.errors == [
        "Line 7: the email address 'x@' is not valid.",
        "Line 8: the parent's name is missing.",
        "Line 9: 'Year 15' is not a year group; use Nursery, Reception or Year 1 to Year 13.",
        "Line 10: Priya Nair prefers post, but there is no postal address.",
        "Line 11: the preferred contact 'fax' is not one we know; write email or post.",
        "Line 12: the email address 'ayesha.begum@example.com' is already on line 2; each "
        "parent needs their own address, or leave it blank for one of them.",
    ]
    assert len(parents(configured.database_url)) == DEMO_PARENTS, "nothing was imported"
    assert count(configured.database_url, AuditEvent, AuditEvent.kind == "parents.imported") == 0


def test_a_header_without_the_needed_columns_is_explained() -> None:
    _, result = check_file(csv_bytes([["Alex", "Year 3"]], header=["Forename", "Class"]))
    assert result.errors[0].startswith("Line 1: the header has no column for the parent's name.")
    assert any("no column for the email address" in e for e in result.errors)


def test_common_header_spellings_and_separate_address_columns_are_understood(
    configured: Settings, tmp_path: Path
) -> None:
    header = "PARENT/CARER NAME,e-mail address,Child Year Groups,Contact by,Address Line 1,"
    header += "Town,Postcode,Admission number"
    rows = [["Tomasz Nowak", "", "R and 2", "", "4 Mill Road", "Oakfield", "OK1 3CD", "A100"]]
    data = "\ufeff".encode() + csv_bytes(rows, header.split(",")).replace(b",", b";")
    result = import_parents_file(write(tmp_path, data))

    assert result.ok, result.errors
    assert result.ignored_columns == ["Admission number"]
    tomasz = next(p for p in parents(configured.database_url) if p.name == "Tomasz Nowak")
    assert tomasz.email is None and tomasz.contact_by == ContactBy.POST
    assert tomasz.year_groups == "Reception, Year 2"
    assert tomasz.postal_address == "4 Mill Road\nOakfield\nOK1 3CD"


def test_a_good_file_of_5000_parents_imports_in_one_transaction(
    configured: Settings, tmp_path: Path
) -> None:
    path = write(tmp_path, csv_bytes(many_rows(5000)))
    stages: list[tuple[str, int, int]] = []
    started = time.perf_counter()
    result = import_parents_file(path, progress=lambda *step: stages.append(step))
    took = time.perf_counter() - started
    print(f"\n5,000-row import took {took:.2f} s")

    assert result.ok, result.errors[:5]
    assert (result.added, result.updated, result.unchanged) == (5000, 0, 0)
    assert len(parents(configured.database_url)) == DEMO_PARENTS + 5000
    assert stages[-1] == ("saving", 5000, 5000) and ("checking", 5000, 5000) in stages
    assert took < 60, f"importing 5,000 parents took {took:.1f} s"
    events = count(configured.database_url, AuditEvent, AuditEvent.kind == "parents.imported")
    assert events == 1


def test_importing_again_updates_instead_of_duplicating(
    configured: Settings, tmp_path: Path
) -> None:
    url = configured.database_url
    first = import_parents_file(write(tmp_path, csv_bytes(GOOD), "first.csv"))
    assert (first.added, first.updated, first.unchanged) == (3, 0, 0)
    ids = {p.name: p.id for p in parents(url)}

    newer = [
        GOOD[0],  # unchanged
        # Tomasz now has an email address: matched by name and postal address, not added.
        ["Tomasz Nowak", "tomasz.nowak@example.com", "Reception, Year 1", "post", TOMASZ_HOME],
        # Grace's email written differently and a new year group: matched by email.
        ["Grace Okoro", "GRACE.OKORO@example.com", "Year 3", "email", "9 High Street, Oakfield"],
        ["Maya Lund", "", "Nursery", "post", "1 Lane End, Oakfield, OK3 9ZZ"],
    ]
    second = import_parents_file(write(tmp_path, csv_bytes(newer), "second.csv"))

    assert (second.added, second.updated, second.unchanged) == (1, 2, 1)
    after = {p.name: p for p in parents(url)}
    assert len(after) == DEMO_PARENTS + 4
    assert after["Tomasz Nowak"].id == ids["Tomasz Nowak"]
    assert after["Tomasz Nowak"].email == "tomasz.nowak@example.com"
    assert after["Tomasz Nowak"].year_groups == "Reception, Year 1"
    assert after["Grace Okoro"].id == ids["Grace Okoro"]
    assert after["Grace Okoro"].contact_by == ContactBy.EMAIL
    assert after["Grace Okoro"].postal_address == "9 High Street\nOakfield"
    again = import_parents_file(write(tmp_path, csv_bytes(newer), "third.csv"))
    assert (again.added, again.updated, again.unchanged) == (0, 0, 4)


def test_the_command_line_reports_line_errors_and_exits_non_zero(
    configured: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = write(tmp_path, csv_bytes([*GOOD, ["Kwame Mensah", "x@", "Year 4", "email", ""]]))
    assert casework_cli(["import-parents", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "Line 7: the email address 'x@' is not valid." in err
    assert "Nothing was imported" in err
    assert len(parents(configured.database_url)) == DEMO_PARENTS

    good = write(tmp_path, csv_bytes(many_rows(600)), "good.csv")
    assert casework_cli(["import-parents", str(good)]) == 0
    out, err = capsys.readouterr()
    assert "600 added, 0 updated, 0 unchanged" in out
    assert "Saving    [##############################] 600/600" in err, "a progress bar"
    assert casework_cli(["import-parents", str(tmp_path / "missing.csv")]) == 2
