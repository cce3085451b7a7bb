"""`casework people ...`, `casework schools ...` and `import-parents --school` from a terminal."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from casework.cli import main
from core.enums import AuditKind, OrganisationKind, Role
from core.settings import Settings
from db.models import AuditEvent, Organisation, Person, School, Serves
from db.people import hr_adviser
from db.session import Session, transaction
from tests.support import make_approval, make_case


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


def test_a_people_import_prints_its_progress_and_names_a_line_from_another_school(
    configured: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = configured.database_url
    assert main(["schools", "add", "--name", "Elmbridge Academy"]) == 0
    args = ["--name", "Omar Reid", "--email", "omar@elmbridge.example", "--role", "staff"]
    assert main(["people", "add", *args, "--school", "Elmbridge Academy"]) == 0
    capsys.readouterr()

    staff = tmp_path / "staff.csv"
    rows = "".join(f"Person {n},person{n}@oakfield.example,staff\n" for n in range(600))
    staff.write_text("name,email,role\n" + rows + "Omar Reid,omar@elmbridge.example,dsl\n")
    assert main(["people", "import", str(staff), "--school", "Oakfield Primary School"]) == 1
    err = capsys.readouterr().err
    assert "Checking  [" in err and "601/601" in err, "the check shows how far it has got"
    assert "Line 602: omar@elmbridge.example belongs to another school" in err
    assert "Nobody was imported" in err
    assert people_named(url, "person0@oakfield.example") == []
    [omar] = people_named(url, "omar@elmbridge.example")
    assert omar.role == Role.STAFF

    staff.write_text("name,email,role\n" + rows)
    assert main(["people", "import", str(staff), "--school", "Oakfield Primary School"]) == 0
    done = capsys.readouterr()
    assert "600 added, 0 updated" in done.out
    assert "Saving    [" in done.err and "250/600" in done.err and "600/600" in done.err
    assert len(people_named(url, "person599@oakfield.example")) == 1


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


def test_a_school_joins_an_existing_trust_by_name_or_number(
    configured: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    url = configured.database_url
    with transaction(url) as session:
        oakfield = session.scalars(select(School)).one()
        trust = oakfield.organisation_id
    add = ["schools", "add", "--name"]
    assert main([*add, "Elmbridge Academy", "--organisation", "Oakfield Learning Trust"]) == 0
    assert "in Oakfield Learning Trust" in capsys.readouterr().out
    assert main([*add, "Birch Primary", "--organisation-id", str(trust)]) == 0
    assert main([*add, "Ash Primary", "--organisation", "Riverside Council"]) == 0
    assert main([*add, "Yew Primary", "--organisation", "Riverside Council"]) == 0
    assert main([*add, "Fir Primary", "--organisation-id", "999"]) == 1
    assert "no organisation 999" in capsys.readouterr().err
    with transaction(url) as session:
        held = {
            name: org for name, org in session.execute(select(School.name, School.organisation_id))
        }
        council = session.scalars(
            select(Organisation).where(Organisation.name == "Riverside Council")
        ).one()
        assert council.kind == OrganisationKind.TRUST
    assert held["Elmbridge Academy"] == held["Birch Primary"] == trust
    assert held["Ash Primary"] == held["Yew Primary"] == council.id != trust
    assert "Fir Primary" not in held
    assert main(["schools", "list"]) == 0
    assert f"Birch Primary\tprimary\tOakfield Learning Trust ({trust})" in capsys.readouterr().out


def test_a_role_and_the_schools_a_person_serves_are_changed_from_the_terminal(
    configured: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    url = configured.database_url
    for name in ("Elmbridge Academy", "Birch Primary"):
        assert main(["schools", "add", "--name", name]) == 0
    capsys.readouterr()

    tom = ["people", "change", "tom.byrne@oakfield.example"]
    assert main([*tom, "--role", "Deputy safeguarding lead", "--job-title", "Head of PE"]) == 0
    assert "role 'staff' -> 'deputy_dsl'" in capsys.readouterr().out
    [tom_now] = people_named(url, "tom.byrne@oakfield.example")
    assert tom_now.role == Role.DEPUTY_DSL and tom_now.job_title == "Head of PE"
    assert main([*tom, "--role", "Wizard"]) == 1
    assert "Choose one of the roles" in capsys.readouterr().err
    assert main([*tom, "--new-email", "dsl@oakfield.example"]) == 1
    assert "already belongs to someone" in capsys.readouterr().err

    hr = ["people", "serve", "hr@oakfield.example"]
    assert main([*hr, "--school", "Elmbridge Academy", "--school", "Birch Primary"]) == 0
    assert "serves Birch Primary, Elmbridge Academy as well" in capsys.readouterr().out
    with transaction(url) as session:
        priya = session.scalars(select(Person).where(Person.email == "hr@oakfield.example")).one()
        served = set(
            session.scalars(select(School.name).join(Serves).where(Serves.person_id == priya.id))
        )
        assert served == {"Elmbridge Academy", "Birch Primary"}
        assert hr_adviser(session, served_id(session, "Birch Primary")).id == priya.id
    assert main([*hr, "--school", "Nowhere Academy"]) == 1
    assert main([*hr, "--none"]) == 0
    assert "serves only their own school" in capsys.readouterr().out
    with transaction(url) as session:
        changes = [
            e.data["changes"]
            for e in session.scalars(
                select(AuditEvent).where(AuditEvent.kind == AuditKind.PERSON_CHANGED)
            )
        ]
    assert [sorted(c) for c in changes] == [["job_title", "role"], ["serves"], ["serves"]]


def served_id(session: Session, name: str) -> int:
    return session.scalars(select(School.id).where(School.name == name)).one()


def test_the_terminal_says_where_a_changed_or_disabled_persons_requests_went(
    configured: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    url = configured.database_url
    case_id = make_case(url)
    make_approval(url, case_id)  # the letter, waiting on the headteacher
    assert main(["people", "change", "head@oakfield.example", "--role", "staff"]) == 0
    out = capsys.readouterr().out
    assert "role 'headteacher' -> 'staff'" in out
    assert "1 request waiting for them was passed on at once, to Kate Doyle" in out
    assert main(["people", "disable", "deputy@oakfield.example", "--reason", "Left"]) == 0
    out = capsys.readouterr().out
    assert "passed on at once, to Margaret Ellis" in out and "A test incident" not in out
    with transaction(url) as session:
        moves = [
            (e.actor, e.data["from"], e.data["to"], e.data["reason"])
            for e in session.scalars(
                select(AuditEvent)
                .where(AuditEvent.kind == AuditKind.REQUEST_PASSED_ON)
                .order_by(AuditEvent.seq)
            )
        ]
    assert moves == [
        ("system", "Helen Okafor", "Kate Doyle", "role changed"),
        ("system", "Kate Doyle", "Margaret Ellis", "account disabled"),
    ]
