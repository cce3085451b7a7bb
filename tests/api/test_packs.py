"""A case pack is read as it was produced: the same bytes, HTML and PDF, however the case
changed afterwards; the latest of its kind by default and earlier ones by number; a clear 404
for a pack never produced. On both databases, signed in as the case lead."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy import select

from core.enums import AuditKind, IncidentType
from core.files import pack_files
from core.settings import Settings
from db.audit import record_event
from db.cases import NewCase, add_note, finish_step, open_case
from db.models import AuditEvent, Case, CasePack, Person, Role
from db.session import transaction
from forms.corrections import BY_TYPE, DESCRIPTION, Change
from services.case_work import correct
from services.packs import record_pack, render_pack
from tests.report_answers import reported
from tests.retention_world import someone

DSL = "dsl@oakfield.example"
REPORTER = "tom.byrne@oakfield.example"
WHAT_HAPPENED = "posted racist comments under a photo of a colleague"  # as first reported


def abuse_case(url: str) -> int:
    """An online-abuse case as intake stores it: a pupil thought responsible."""
    report = reported(IncidentType.ONLINE_ABUSE)
    with transaction(url) as session:
        reporter = session.scalars(select(Person).where(Person.email == REPORTER)).one()
        case = open_case(
            session,
            school_id=reporter.school_id,
            reporter=reporter,
            lead=someone(session, Role.DSL),
            new=NewCase(
                report.incident_type,
                report.platform,
                report.occurred_at,
                report.description,
                report.details,
            ),
        )
        return case.id


def produce(url: str, case_id: int, kind: str = "police") -> tuple[bytes, bytes]:
    """Produce the pack; its stored HTML and PDF."""
    with transaction(url) as session:
        row = record_pack(session, case_id, kind)
        names = row.html_name, row.pdf_name
    return tuple(pack_files().path(name).read_bytes() for name in names)  # type: ignore[return-value]


def later_steps(url: str, case_id: int) -> None:
    """What happens to a case after its pack went: a correction, a note, a step done."""
    name = next(f for f in BY_TYPE[IncidentType.ONLINE_ABUSE] if f.name == "responsible_name")
    with transaction(url) as session:
        case = session.get(Case, case_id)
        assert case is not None
        lead = someone(session, Role.DSL)
        changes = [
            Change(DESCRIPTION, case.description, "Corrected: the comments came from an adult."),
            Change(name, "Jay Kerr", "Jordan Kerr"),
        ]
        correct(session, case, lead, changes, "The first account named the wrong person.")
        add_note(session, case_id, lead, "Spoke to the police liaison officer.")
        finish_step(session, case_id, "report_to_platform", outcome="Reported to Instagram.")


def test_a_pack_is_served_byte_for_byte_as_produced_after_the_case_changes(
    configured: Settings, signed_in: Callable[[str], TestClient]
) -> None:
    url = configured.database_url
    case_id = abuse_case(url)
    html, pdf = produce(url, case_id)
    later_steps(url, case_id)
    with transaction(url) as session:
        now = render_pack(session, case_id, "police", datetime.now(UTC))
    assert "Jordan Kerr" in now and "Jordan Kerr" not in html.decode(), "a re-render differs"

    dsl = signed_in(DSL)
    page = dsl.get(f"/cases/{case_id}/packs/police")
    assert page.status_code == 200 and page.content == html
    assert page.headers["x-content-sha256"] == hashlib.sha256(html).hexdigest()
    assert "sandbox" in page.headers["content-security-policy"]
    printable = dsl.get(f"/cases/{case_id}/packs/police.pdf")
    assert printable.status_code == 200 and printable.content == pdf
    assert printable.headers["content-type"] == "application/pdf"
    assert printable.headers["x-content-sha256"] == hashlib.sha256(pdf).hexdigest()
    assert "attachment" in printable.headers["content-disposition"]
    assert WHAT_HAPPENED in page.text and "Corrected: the comments" not in page.text
    with transaction(url) as session:
        viewed = session.scalars(
            select(AuditEvent).where(
                AuditEvent.case_id == case_id, AuditEvent.kind == AuditKind.PACK_VIEWED
            )
        ).all()
        produced = session.scalars(
            select(AuditEvent).where(
                AuditEvent.case_id == case_id, AuditEvent.kind == AuditKind.PACK_PRODUCED
            )
        ).one()
        assert len(viewed) == 2, "each look is in the trail"
        assert produced.data["sha256"] == hashlib.sha256(printable.content).hexdigest()


def test_a_pack_reads_with_labels_not_stored_keys(
    configured: Settings, signed_in: Callable[[str], TestClient]
) -> None:
    url = configured.database_url
    case_id = abuse_case(url)
    produce(url, case_id)
    text = signed_in(DSL).get(f"/cases/{case_id}/packs/police").text
    for shown in (
        "A current pupil",
        "Another member of staff",
        "Racist; Hate crime",
        "Yes, it was still there",
        "Who is thought to be responsible",
        "Reported the incident; the case was opened",
        "Tom Byrne",
    ):
        assert shown in text, shown
    for raw in ("current_pupil", "hate_crime", "staff_member", "still_online", "platform_key"):
        assert raw not in text, raw
    assert "['racist'" not in text and "case.opened" not in text and ">True<" not in text


def test_the_latest_pack_is_shown_and_earlier_ones_are_kept_by_number(
    configured: Settings, signed_in: Callable[[str], TestClient]
) -> None:
    url = configured.database_url
    case_id = abuse_case(url)
    first, first_pdf = produce(url, case_id)
    later_steps(url, case_id)
    second, _ = produce(url, case_id)
    dsl = signed_in(DSL)
    packs = f"/cases/{case_id}/packs"
    assert dsl.get(f"{packs}/police").content == second
    assert dsl.get(f"{packs}/police-2").content == second
    assert dsl.get(f"{packs}/police-1").content == first
    assert dsl.get(f"{packs}/police-1.pdf").content == first_pdf
    assert "Jordan Kerr" in second.decode() and "Jordan Kerr" not in first.decode()
    page = dsl.get(f"/cases/{case_id}").text
    assert f'href="{packs}/police"' in page and f'href="{packs}/police-1"' in page
    assert "Earlier Police referral pack (1 of 2)" in page
    missing = dsl.get(f"{packs}/police-3")
    assert missing.status_code == 404 and "it has had 2 produced" in missing.text
    with transaction(url) as session:
        assert len(session.scalars(select(CasePack)).all()) == 2


def test_a_pack_never_produced_is_a_404_that_says_why(
    configured: Settings, signed_in: Callable[[str], TestClient]
) -> None:
    url = configured.database_url
    case_id = abuse_case(url)
    produce(url, case_id, "police")
    dsl = signed_in(DSL)
    for name in ("hr", "hr.pdf", "hr-1"):
        answer = dsl.get(f"/cases/{case_id}/packs/{name}")
        assert answer.status_code == 404, name
        assert "has no HR case pack" in answer.text
        assert "when the case is escalated to HR" in answer.text
    for name in ("payroll", "police-0", "police-01", "police.html", "HR"):
        answer = dsl.get(f"/cases/{case_id}/packs/{name}")
        assert answer.status_code == 404 and "There is no such pack" in answer.text, name
    with transaction(url) as session:
        viewed = session.scalars(
            select(AuditEvent).where(AuditEvent.kind == AuditKind.PACK_VIEWED)
        ).all()
        assert viewed == [], "nothing was shown, so nothing was viewed"


def test_a_pack_produced_before_packs_were_kept_says_so(
    configured: Settings, signed_in: Callable[[str], TestClient]
) -> None:
    url = configured.database_url
    case_id = abuse_case(url)
    with transaction(url) as session:  # as record_pack left it before revision 0019
        data = {"pack": "hr", "sha256": "0" * 64, "bytes": 1234}
        record_event(session, case_id=case_id, kind=AuditKind.PACK_PRODUCED, data=data)
    answer = signed_in(DSL).get(f"/cases/{case_id}/packs/hr")
    assert answer.status_code == 404
    assert "was produced before Casework kept a copy of each pack" in answer.text


def test_a_stored_pack_that_changed_is_not_served(
    configured: Settings, signed_in: Callable[[str], TestClient]
) -> None:
    url = configured.database_url
    case_id = abuse_case(url)
    produce(url, case_id)
    with transaction(url) as session:
        row = session.scalars(select(CasePack)).one()
        path = pack_files().path(row.pdf_name)
    path.chmod(0o640)
    path.write_bytes(b"%PDF-1.7 something else")
    dsl = signed_in(DSL)
    answer = dsl.get(f"/cases/{case_id}/packs/police.pdf")
    assert answer.status_code == 500 and "has changed since it was produced" in answer.text
    assert dsl.get(f"/cases/{case_id}/packs/police").status_code == 200, "the HTML is intact"
