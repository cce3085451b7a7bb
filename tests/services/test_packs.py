"""Producing a case pack: rendered once, its HTML and PDF stored write-once with a row, the
trail's event carrying the PDF's SHA-256; nothing left behind if the transaction fails, and
nothing left at all once the case is disposed of. On both databases, with real files."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sqlalchemy import select

from core.enums import AuditKind, IncidentType
from core.files import pack_files
from core.settings import Settings
from db.cases import NewCase, open_case
from db.models import AuditEvent, Case, CasePack, Person, Role
from db.session import transaction
from services.escalation import escalate_to_hr
from services.packs import record_pack
from services.retention import dispose, leftover_files
from tests.report_answers import reported
from tests.retention_world import closed_case, someone

SUBJECT = "amy.fletcher@oakfield.example"
REPORTER = "tom.byrne@oakfield.example"


def staff_case(url: str) -> int:
    """A staff-conduct case about Amy, as intake stores it."""
    with transaction(url) as session:
        amy = session.scalars(select(Person).where(Person.email == SUBJECT)).one()
        report = reported(IncidentType.STAFF_CONDUCT, subject_id=amy.id)
        reporter = session.scalars(select(Person).where(Person.email == REPORTER)).one()
        lead = someone(session, Role.DSL)
        case = open_case(
            session,
            school_id=reporter.school_id,
            reporter=reporter,
            lead=lead,
            new=NewCase(
                report.incident_type,
                report.platform,
                report.occurred_at,
                report.description,
                report.details,
                subject_id=amy.id,
            ),
        )
        return case.id


def packs_of(url: str, case_id: int) -> list[CasePack]:
    with transaction(url) as session:
        rows = list(session.scalars(select(CasePack).where(CasePack.case_id == case_id)))
        session.expunge_all()
        return rows


def stored(name: str) -> Path:
    return pack_files().path(name)


def test_escalating_to_hr_stores_the_pack_and_the_trail_fingerprints_its_pdf(
    configured: Settings,
) -> None:
    url = configured.database_url
    case_id = staff_case(url)
    with transaction(url) as session:
        case = session.get(Case, case_id)
        assert case is not None
        escalate_to_hr(session, case)
    (row,) = packs_of(url, case_id)
    html, pdf = stored(row.html_name).read_bytes(), stored(row.pdf_name).read_bytes()
    assert row.kind == "hr" and pdf.startswith(b"%PDF")
    assert (row.html_sha256, row.html_size) == (hashlib.sha256(html).hexdigest(), len(html))
    assert (row.pdf_sha256, row.pdf_size) == (hashlib.sha256(pdf).hexdigest(), len(pdf))
    with transaction(url) as session:
        (event,) = session.scalars(
            select(AuditEvent).where(
                AuditEvent.case_id == case_id, AuditEvent.kind == AuditKind.PACK_PRODUCED
            )
        )
        data = dict(event.data)
    assert data["sha256"] == hashlib.sha256(pdf).hexdigest(), "an auditor checks the PDF"
    assert data["bytes"] == len(pdf) and data["pack"] == "hr" and data["pack_id"] == row.id
    assert data["html_sha256"] == row.html_sha256
    page = html.decode()
    assert "HR case pack" in page and "Amy Fletcher" in page
    assert "Private contact with pupils" in page and "contact_with_pupils" not in page
    assert "Subject id" not in page and "Yes, or the person reporting was not sure" in page
    for mode in (stored(row.html_name).stat().st_mode, stored(row.pdf_name).stat().st_mode):
        assert mode & 0o222 == 0, "written once: nobody may change it"


def test_a_pack_whose_transaction_fails_leaves_no_file(configured: Settings) -> None:
    url = configured.database_url
    case_id = staff_case(url)
    failed = pytest.raises(RuntimeError, match="something after the pack failed")
    with failed, transaction(url) as session:
        record_pack(session, case_id, "police")
        assert len(list(pack_files().directory.iterdir())) == 2
        raise RuntimeError("something after the pack failed")
    assert packs_of(url, case_id) == []
    assert list(pack_files().directory.iterdir()) == [], "no file nothing names"
    with transaction(url) as session:
        record_pack(session, case_id, "police")
    assert len(list(pack_files().directory.iterdir())) == 2, "a committed pack keeps its files"


def test_disposal_removes_every_pack_file_and_keeps_the_fingerprints(
    configured: Settings,
) -> None:
    url = configured.database_url
    case_id = closed_case(url)
    with transaction(url) as session:
        record_pack(session, case_id, "hr")
        record_pack(session, case_id, "police")
        dsl = someone(session, Role.DSL).id
    rows = packs_of(url, case_id)
    files = [stored(name) for row in rows for name in (row.html_name, row.pdf_name)]
    assert len(files) == 4 and all(path.exists() for path in files)

    done = dispose(case_id, dsl, "Retention period over; nothing needs it.")
    assert done.counts["case pack files"] == 4 and done.files_left == 0
    assert not any(path.exists() for path in files)
    kept = packs_of(url, case_id)
    assert [(r.kind, r.pdf_sha256) for r in kept] == [(r.kind, r.pdf_sha256) for r in rows]
    assert leftover_files(case_id) == 0, "trying again finds nothing left"
