"""`casework people ...`, `casework schools ...` and `import-parents --school` from a terminal."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from casework.cli import main
from core.enums import AuditKind, Role
from core.settings import Settings
from db.models import AuditEvent, Person, School
from db.session import transaction


def people_named(url: str, email: str) -> list[Person]:
    with transaction(url) as session:
        rows = list(session.scalars(select(Person).where(Person.email == email)))
        session.expunge_all()
        return rows


def test_schools_and_people_are_added_and_disabled_from_the_terminal(
    configured: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    url = configured.database_url
    assert main(["schools", "add", "--name", "Elmbridge Academy", "--phase", "secondary"]) == 0
    assert "Added school" in capsys.readouterr().out

    # Two schools now: the command must be told which.
    args = ["people", "add", "--name", "Omar Reid", "--email", "head@elmbridge.example"]
    assert main([*args, "--role", "Headteacher"]) == 1
    assert "say which with --school" in capsys.readouterr().err
    assert main([*args, "--role", "Headteacher", "--school", "Elmbridge Academy"]) == 0
    [omar] = people_named(url, "head@elmbridge.example")
    assert omar.role == Role.HEADTEACHER
    with transaction(url) as session:
        elm = session.scalars(select(School).where(School.name == "Elmbridge Academy")).one()
        assert omar.school_id == elm.id and elm.phase.value == "secondary"

    assert main([*args, "--role", "Wizard", "--school", "Elmbridge Academy"]) == 1
    assert "Choose one of the roles" in capsys.readouterr().err

    assert main(["people", "disable", "head@elmbridge.example", "--reason", "Retired"]) == 0
    assert "Disabled Omar Reid" in capsys.readouterr().out
    [omar] = people_named(url, "head@elmbridge.example")
    assert not omar.active
    assert main(["people", "disable", "nobody@elmbridge.example", "--reason", "x"]) == 1


def test_a_people_file_with_a_bad_line_changes_nothing(
    configured: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = configured.database_url
    bad = tmp_path / "staff.csv"
    bad.write_text(
        "name,email,role\nLena Ortiz,lena@oakfield.example,staff\nBo Lind,,staff\n",
        encoding="utf-8",
    )
    assert main(["people", "import", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "Line 3, email" in err and "Nobody was imported" in err
    assert people_named(url, "lena@oakfield.example") == []

    good = tmp_path / "good.csv"
    good.write_text(
        "name,email,role,job_title\nLena Ortiz,lena@oakfield.example,staff,Teacher\n",
        encoding="utf-8",
    )
    assert main(["people", "import", str(good)]) == 0, "one school: no --school needed"
    assert "1 added, 0 updated" in capsys.readouterr().out
    assert len(people_named(url, "lena@oakfield.example")) == 1
    with transaction(url) as session:
        imported = session.scalars(
            select(AuditEvent).where(AuditEvent.kind == AuditKind.PEOPLE_IMPORTED)
        ).one()
        assert imported.data["added"] == 1


def test_import_parents_names_the_school_when_there_are_several(
    configured: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["schools", "add", "--name", "Elmbridge Academy"]) == 0
    parents = tmp_path / "parents.csv"
    parents.write_text(
        "name,email,year groups,preferred contact,postal address\n"
        "Kai Burke,kai@families.example,Year 6,email,\n",
        encoding="utf-8",
    )
    assert main(["import-parents", str(parents)]) == 1
    assert "say which with --school" in capsys.readouterr().err
    assert main(["import-parents", str(parents), "--school", "Elmbridge Academy"]) == 0
    with transaction(configured.database_url) as session:
        kai = session.scalars(select(Person).where(Person.email == "kai@families.example")).one()
        elm = session.scalars(select(School).where(School.name == "Elmbridge Academy")).one()
        assert kai.school_id == elm.id
