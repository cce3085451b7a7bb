"""Retention, legal hold, disposal and subject access, as the DSL and the head use them:
the review queue, one case's review page, the tombstone, the CLI and the export. On both
databases, with real files, a real mail server and a real sign-in."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select, text

from casework.cli import main
from core.enums import AuditKind, IncidentType, Role
from core.files import evidence_files, letter_files
from core.search import parse_query
from core.settings import Settings
from db.audit import verify_chain
from db.models import (
    Approval,
    AuditEvent,
    Case,
    CaseDisposal,
    CaseMention,
    CaseNote,
    CaseStep,
    Evidence,
    LegalHold,
    OutboxMessage,
    PostalLetter,
    PrintFile,
)
from db.people import actor_of, staff_by_email
from db.search import search_cases
from db.session import transaction
from services.retention import RetentionProblem, dispose
from tests.retention_world import PUPIL, closed_case
from tests.support import csrf_of, make_case

DSL = "dsl@oakfield.example"
HEAD = "head@oakfield.example"


def case_of(url: str, case_id: int) -> Case:
    with transaction(url) as session:
        case = session.get(Case, case_id)
        assert case is not None
        session.expunge(case)
        return case


def files_of(url: str, case_id: int) -> list[Path]:
    with transaction(url) as session:
        evidence = session.scalars(select(Evidence).where(Evidence.case_id == case_id))
        prints = session.scalars(select(PrintFile).where(PrintFile.case_id == case_id))
        return [evidence_files().path(e.stored_name) for e in evidence] + [
            letter_files().path(p.stored_name) for p in prints
        ]


def post_form(client: TestClient, page_path: str, action: str, data: dict[str, str]) -> Response:
    page = client.get(page_path)
    assert page.status_code == 200, page.text
    return client.post(action, data={**data, "csrf_token": csrf_of(page.text)})


def dsl_id(url: str) -> int:
    with transaction(url) as session:
        person = staff_by_email(session, DSL)
        assert person is not None
        return person.id


# --- The review queue and legal holds -----------------------------------------------------


def test_the_queue_lists_due_cases_oldest_first_and_not_open_or_later_ones(
    signed_in: Callable[[str], TestClient], configured: Settings
) -> None:
    url = configured.database_url
    older = closed_case(url, IncidentType.PARENT_CONTACT, {"parent_name": "Pat Evans"}, full=False)
    newer = closed_case(url, full=False)  # Year 6 in 2009: due 31 August 2024
    not_yet = closed_case(url, at=datetime(2025, 1, 6, tzinfo=UTC), full=False)  # due 2040
    still_open = make_case(url)
    page = signed_in(DSL).get("/retention")
    assert page.status_code == 200
    refs = {i: case_of(url, i).reference for i in (older, newer, not_yet, still_open)}
    assert refs[older] in page.text and refs[newer] in page.text
    assert page.text.index(refs[older]) < page.text.index(refs[newer]), "oldest review first"
    assert refs[not_yet] not in page.text and refs[still_open] not in page.text
    assert case_of(url, still_open).review_on is None


def test_a_held_case_is_never_disposed_of_until_the_hold_is_released(
    signed_in: Callable[[str], TestClient], configured: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    url = configured.database_url
    case_id = closed_case(url)
    reference = case_of(url, case_id).reference
    review = f"/retention/cases/{case_id}"
    dsl = signed_in(DSL)
    blank = post_form(dsl, review, f"{review}/hold", {"hold_reason": " "})
    assert blank.status_code == 400 and "Give the reason" in blank.text
    held = post_form(dsl, review, f"{review}/hold", {"hold_reason": "A claim has been made."})
    assert held.status_code == 200 and "under a legal hold" in held.text

    # The page: no disposal form, and a forged post is refused with the hold's reason.
    page = dsl.get(review)
    assert "Dispose of case" not in page.text and "cannot be disposed of" in page.text
    forged = dsl.post(
        f"{review}/dispose",
        data={
            "dispose_reason": "Retention period over.",
            "confirm": reference,
            "csrf_token": csrf_of(page.text),
        },
    )
    assert forged.status_code == 409 and "legal hold" in forged.text
    # The terminal, and the service itself.
    code = main(["retention", "dispose", reference, "--reason", "Period over.", "--by", DSL])
    assert code == 1 and "legal hold" in capsys.readouterr().err
    with pytest.raises(RetentionProblem, match="legal hold"):
        dispose(case_id, dsl_id(url), "Period over, nothing else needs it.")
    assert case_of(url, case_id).disposed_at is None
    assert all(path.exists() for path in files_of(url, case_id))

    released = post_form(dsl, review, f"{review}/release", {"release_reason": "Claim settled."})
    assert released.status_code == 200 and "hold is released" in released.text
    code = main(["retention", "dispose", reference, "--reason", "Period over.", "--by", DSL])
    assert code == 0 and case_of(url, case_id).disposed_at is not None
    kinds = [k for k in audit_kinds_of(url, case_id) if k.startswith(("legal_hold", "case.disp"))]
    assert kinds == ["legal_hold.placed", "legal_hold.released", "case.disposed"]


def audit_kinds_of(url: str, case_id: int) -> list[str]:
    with transaction(url) as session:
        return list(
            session.scalars(
                select(AuditEvent.kind)
                .where(AuditEvent.case_id == case_id)
                .order_by(AuditEvent.seq)
            )
        )


def test_the_cli_holds_lists_and_releases(
    configured: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    url = configured.database_url
    reference = case_of(url, closed_case(url, full=False)).reference
    assert main(["retention", "hold", reference, "--reason", "Police asked.", "--by", HEAD]) == 0
    assert main(["retention", "due"]) == 0
    listed = capsys.readouterr().out
    assert reference in listed and "HELD: Police asked." in listed
    staff = "tom.byrne@oakfield.example"
    assert main(["retention", "release", reference, "--reason", "Done.", "--by", staff]) == 1
    assert "only its school's headteacher" in capsys.readouterr().err
    assert main(["retention", "release", reference, "--reason", "Done.", "--by", HEAD]) == 0
    assert main(["retention", "hold", "CW-1999-99999", "--reason", "x", "--by", HEAD]) == 1
    assert "no case" in capsys.readouterr().err


def test_keeping_a_case_longer_moves_its_review_date_with_a_reason(
    signed_in: Callable[[str], TestClient], configured: Settings
) -> None:
    url = configured.database_url
    case_id = closed_case(url, full=False)
    review = f"/retention/cases/{case_id}"
    dsl = signed_in(DSL)
    bad = post_form(dsl, review, f"{review}/keep", {"until": "next year", "keep_reason": ""})
    assert bad.status_code == 400
    assert "Enter the date as a date" in bad.text and "Give the reason" in bad.text
    past = post_form(
        dsl,
        review,
        f"{review}/keep",
        {"until": "2001-01-01", "keep_reason": "A sibling's case refers to it."},
    )
    assert past.status_code == 400 and "Choose a date after" in past.text
    kept = post_form(
        dsl,
        review,
        f"{review}/keep",
        {"until": "2040-07-31", "keep_reason": "A sibling's case refers to it."},
    )
    assert kept.status_code == 200 and "new review date is saved" in kept.text
    case = case_of(url, case_id)
    assert case.review_on == date(2040, 7, 31) and case.review_extended
    assert case.reference not in dsl.get("/retention").text
    assert "retention.extended" in audit_kinds_of(url, case_id)


# --- Disposal -------------------------------------------------------------------------------


def test_disposal_leaves_a_tombstone_and_the_chain_still_verifies(
    signed_in: Callable[[str], TestClient], configured: Settings
) -> None:
    url = configured.database_url
    case_id = closed_case(url)
    other = closed_case(url, full=False)  # another case naming the same pupil stays whole
    reference = case_of(url, case_id).reference
    files = files_of(url, case_id)
    assert len(files) == 2 and all(path.exists() for path in files)
    review = f"/retention/cases/{case_id}"
    dsl = signed_in(DSL)
    wrong = post_form(
        dsl, review, f"{review}/dispose", {"dispose_reason": "Period over.", "confirm": "CW-0"}
    )
    assert wrong.status_code == 400 and "Type the case" in wrong.text
    assert case_of(url, case_id).disposed_at is None
    done = post_form(
        dsl,
        review,
        f"{review}/dispose",
        {"dispose_reason": "Retention period over; reviewed.", "confirm": reference.lower()},
    )
    assert done.status_code == 200 and f"Case {reference} is disposed of" in done.text

    # The bytes are gone from disk, and every row that held personal content is emptied.
    assert not any(path.exists() for path in files)
    with transaction(url) as session:
        case = session.get(Case, case_id)
        assert case is not None
        assert (case.description, case.details, case.outcome) == ("", {}, "")
        assert case.reference == reference and case.closed_at is not None
        assert session.scalars(select(CaseNote).where(CaseNote.case_id == case_id)).all() == []
        assert (
            session.scalars(select(CaseMention).where(CaseMention.case_id == case_id)).all() == []
        )
        assert (
            session.scalars(select(PostalLetter).where(PostalLetter.case_id == case_id)).all() == []
        )
        steps = session.scalars(select(CaseStep).where(CaseStep.case_id == case_id))
        assert all(step.outcome == "" for step in steps)
        approvals = session.scalars(select(Approval).where(Approval.case_id == case_id)).all()
        assert approvals and all(
            (a.response, a.reason, a.decided_ip) == ({}, "", "") for a in approvals
        )
        evidence = session.scalars(select(Evidence).where(Evidence.case_id == case_id)).all()
        assert evidence and all((e.original_filename, e.source) == ("", "") for e in evidence)
        mail = session.scalars(select(OutboxMessage).where(OutboxMessage.case_id == case_id)).all()
        assert mail and all(m.to_addr == "" and m.subject == m.text_body == "" for m in mail)
        tombstone = session.scalars(
            select(CaseDisposal).where(CaseDisposal.case_id == case_id)
        ).one()
        assert tombstone.counts["evidence files"] == 1 and tombstone.counts["notes"] == 1
        # Search no longer finds it; the other case naming the pupil is still found.
        dsl_actor = actor_of(session, staff_by_email(session, DSL))  # type: ignore[arg-type]
        found = {
            f.case.id
            for f in search_cases(session, dsl_actor, case.school_id, parse_query(PUPIL)).found
        }
        assert case_id not in found and other in found
        event = session.scalars(
            select(AuditEvent).where(
                AuditEvent.case_id == case_id, AuditEvent.kind == AuditKind.CASE_DISPOSED
            )
        ).one()
        assert event.data["reason"] == "Retention period over; reviewed."
        assert PUPIL not in json.dumps(event.data)
        report = verify_chain(session)
        assert report.ok, report.problem
        # Nothing of what the case said is left in its own tables' text columns.
        left = session.execute(
            text("SELECT description FROM cases WHERE id = :id"), {"id": case_id}
        ).scalar()
        assert left == ""

    # The case page is the tombstone; everything else about the case is gone (410).
    page = dsl.get(f"/cases/{case_id}")
    assert page.status_code == 200 and "disposed of at the end of its retention period" in page.text
    assert PUPIL not in page.text and "Retention period over; reviewed." in page.text
    assert dsl.get(f"/cases/{case_id}/correct").status_code == 410
    assert dsl.get(f"/cases/{case_id}/evidence/{evidence[0].id}").status_code == 410
    assert dsl.get(f"/cases/{case_id}/packs/hr").status_code == 410
    assert dsl.get(f"/cases/{case_id}/audit.json").status_code == 200, "the trail stays checkable"
    assert reference not in dsl.get("/retention").text


def test_only_the_head_and_dsl_review_and_dispose(
    signed_in: Callable[[str], TestClient], configured: Settings
) -> None:
    url = configured.database_url
    case_id = closed_case(url, full=False)
    head = signed_in(HEAD)
    assert head.get("/retention").status_code == 200
    assert head.get(f"/retention/cases/{case_id}").status_code == 200
    for email in (
        "tom.byrne@oakfield.example",
        "governor@oakfield.example",
        "auditor@oakfield.example",
    ):
        head.cookies.clear()
        other = signed_in(email)
        assert other.get("/retention").status_code == 403, email
        assert other.get(f"/retention/cases/{case_id}").status_code == 403, email
        assert other.get("/retention/subject-access").status_code == 403, email
        token = csrf_of(other.get("/").text)
        for action in ("hold", "dispose"):
            refused = other.post(
                f"/retention/cases/{case_id}/{action}",
                data={f"{action}_reason": "Because.", "confirm": "x", "csrf_token": token},
            )
            assert refused.status_code == 403, (email, action)
    assert case_of(url, case_id).disposed_at is None
    with transaction(url) as session:
        assert session.scalars(select(LegalHold)).all() == []


# --- Review dates and the school's rules ---------------------------------------------------


def test_the_school_sets_its_own_years_and_closed_cases_are_re_dated(
    signed_in: Callable[[str], TestClient], configured: Settings
) -> None:
    url = configured.database_url
    case_id = closed_case(
        url, IncidentType.PARENT_CONTACT, {"parent_name": "Pat Evans"}, full=False
    )
    assert case_of(url, case_id).review_on == date(2015, 11, 4)  # closed 4 Nov 2009 + 6
    dsl = signed_in(DSL)
    bad = post_form(
        dsl, "/admin/retention", "/admin/retention", {"pupil": "20", "staff": "ten", "other": "101"}
    )
    assert bad.status_code == 400
    assert (
        "at least 25 years" in bad.text
        and "whole number" in bad.text
        and "100 years or fewer" in bad.text
    )
    saved = post_form(
        dsl, "/admin/retention", "/admin/retention", {"pupil": "30", "staff": "12", "other": "8"}
    )
    assert saved.status_code == 200 and "Saved." in saved.text
    assert case_of(url, case_id).review_on == date(2017, 11, 4)
    reset = post_form(dsl, "/admin/retention", "/admin/retention", {"reset": "1"})
    assert reset.status_code == 200
    assert case_of(url, case_id).review_on == date(2015, 11, 4)


def test_review_dates_follow_each_class(configured: Settings) -> None:
    url = configured.database_url
    with_year = closed_case(url, full=False)
    no_year = closed_case(url, details={"pupil_name": PUPIL, "pupil_year_group": ""}, full=False)
    born = closed_case(
        url, details={"pupil_name": PUPIL, "pupil_date_of_birth": "1998-02-14"}, full=False
    )
    staff = closed_case(
        url,
        IncidentType.STAFF_CONDUCT,
        {"child_at_risk": False},
        subject_role=Role.DEPUTY_HEAD,
        full=False,
    )
    assert case_of(url, with_year).review_on == date(2024, 8, 31)
    assert case_of(url, no_year).review_on == date(2034, 11, 4)
    assert case_of(url, born).review_on == date(2023, 2, 14)
    assert case_of(url, staff).review_on == date(2019, 10, 5)


def test_correcting_the_date_of_birth_re_dates_a_closed_case(
    signed_in: Callable[[str], TestClient], configured: Settings
) -> None:
    url = configured.database_url
    case_id = closed_case(url, full=False)
    dsl = signed_in(DSL)
    page = f"/cases/{case_id}/correct"
    bad = post_form(
        dsl, page, page, {"pupil_date_of_birth": "31/02/2000", "reason": "From the MIS."}
    )
    assert bad.status_code == 400 and "as a date" in bad.text
    fixed = post_form(
        dsl, page, page, {"pupil_date_of_birth": "2000-03-01", "reason": "From the MIS."}
    )
    assert fixed.status_code == 200
    assert case_of(url, case_id).review_on == date(2025, 3, 1)


# --- Subject access -------------------------------------------------------------------------


def test_a_subject_access_export_gathers_a_pupil_across_cases_and_flags_others(
    signed_in: Callable[[str], TestClient], configured: Settings
) -> None:
    url = configured.database_url
    first = closed_case(url)
    second = closed_case(
        url,
        IncidentType.ONLINE_ABUSE,
        {"target": "pupil", "target_name": PUPIL, "links": "x"},
        description="Posts about a pupil.",
        full=False,
    )
    unrelated = closed_case(
        url,
        details={"pupil_name": "Sam Patel", "pupil_year_group": "Year 5"},
        description="Sam Patel messaged me.",
        full=False,
    )
    dsl = signed_in(DSL)
    form = dsl.get("/retention/subject-access")
    assert form.status_code == 200
    short = dsl.get("/retention/subject-access/export?name=Jo")
    assert short.status_code == 400 and "3 characters" in short.text
    page = dsl.get("/retention/subject-access/export", params={"name": PUPIL.lower()})
    assert page.status_code == 200
    refs = {i: case_of(url, i).reference for i in (first, second, unrelated)}
    assert (
        refs[first] in page.text and refs[second] in page.text and refs[unrelated] not in page.text
    )
    assert "Redact" in page.text
    download = dsl.get("/retention/subject-access/export", params={"name": PUPIL, "format": "json"})
    assert download.status_code == 200 and "attachment" in download.headers["content-disposition"]
    export = download.json()
    by_ref = {c["reference"]: c for c in export["cases"]}
    assert set(by_ref) == {refs[first], refs[second]}
    entries = by_ref[refs[first]]["entries"]
    note = next(e for e in entries if e["what"].startswith("Note by"))
    assert "Mrs Miles" in note["text"] and "Daniel Price" in note["third_parties"]
    reported = next(e for e in entries if e["what"] == "Reported by")
    assert reported["third_parties"] == [reported["text"]], "the reporter is someone else"
    assert any(e["what"] == "Evidence file" for e in entries)
    with transaction(url) as session:
        logged = session.scalars(
            select(AuditEvent).where(AuditEvent.kind == AuditKind.SUBJECT_ACCESS_EXPORTED)
        ).all()
    assert [e.data["format"] for e in logged] == ["html", "json"]
    assert sorted(logged[0].data["cases"]) == sorted([refs[first], refs[second]])
    assert PUPIL not in json.dumps(logged[0].data)


def test_a_staff_member_s_export_lists_what_they_did_on_cases(
    signed_in: Callable[[str], TestClient], configured: Settings
) -> None:
    url = configured.database_url
    case_id = closed_case(url)
    dsl = signed_in(DSL)
    reporter = case_of(url, case_id).reporter_id
    export = dsl.get(
        "/retention/subject-access/export", params={"person": str(reporter), "format": "json"}
    ).json()
    mine = next(c for c in export["cases"] if c["reference"] == case_of(url, case_id).reference)
    assert "reported it" in mine["how"] and "added evidence" in mine["how"]
    assert any(e["what"] == "Your report: what happened" for e in mine["entries"])
    assert not any(e["what"].startswith("Note by") for e in mine["entries"]), "not their note"
    assert any(a["what"] == "case.opened" for a in export["activity"])
    assert dsl.get("/retention/subject-access/export?person=999999").status_code == 400
