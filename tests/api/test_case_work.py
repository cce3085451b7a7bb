"""Working a case off its procedure: notes, late evidence, corrections, withdrawal, reopening.

Through the web app on a real database and a real mail server; the Prefect side of
withdrawing and reopening is tested end to end in tests/e2e/test_case_work.py.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select

from core.settings import Settings
from db.models import Approval, AuditEvent, Case, CaseStatus, Evidence, OutboxMessage
from db.people import get_person
from db.session import transaction
from tests.support import PNG, audit_kinds, csrf_of, make_approval, make_case

DSL = "dsl@oakfield.example"
HEAD = "head@oakfield.example"
STAFF = "sara.novak@oakfield.example"


def reporter_email(url: str, case_id: int) -> str:
    with transaction(url) as session:
        case = session.get(Case, case_id)
        assert case is not None
        return str(get_person(session, case.reporter_id).email)


def test_a_note_shows_on_the_case_page_and_in_the_timeline(
    signed_in: Callable[[str], TestClient], configured: Settings
) -> None:
    case_id = make_case(configured.database_url)
    dsl = signed_in(DSL)
    page = dsl.get(f"/cases/{case_id}")
    blank = dsl.post(
        f"/cases/{case_id}/notes", data={"note": "   ", "csrf_token": csrf_of(page.text)}
    )
    assert blank.status_code == 400 and "Write the note" in blank.text
    long = "x" * 5001
    too_long = dsl.post(
        f"/cases/{case_id}/notes", data={"note": long, "csrf_token": csrf_of(page.text)}
    )
    assert too_long.status_code == 400 and long in too_long.text, "the text is kept"
    added = dsl.post(
        f"/cases/{case_id}/notes",
        data={"note": "Spoke to the pupil's form tutor.", "csrf_token": csrf_of(page.text)},
    )
    assert added.status_code == 200 and "Your note is added" in added.text
    assert "Spoke to the pupil&#39;s form tutor." in added.text
    assert "note.added" in audit_kinds(configured.database_url, case_id)
    assert "Daniel Price added a note." in added.text, "and in the history"


def test_the_reporter_adds_late_evidence_but_cannot_add_notes(
    signed_in: Callable[[str], TestClient], configured: Settings
) -> None:
    url = configured.database_url
    case_id = make_case(url)
    staff = signed_in(reporter_email(url, case_id))
    form = staff.get(f"/cases/{case_id}/evidence/add")
    assert form.status_code == 200
    token = csrf_of(form.text)
    wrong = staff.post(
        f"/cases/{case_id}/evidence/add",
        data={"evidence_source": "@jm_2014", "csrf_token": token},
        files=[("evidence", ("notes.txt", b"just text", "text/plain"))],
    )
    assert wrong.status_code == 400 and "not a file type we accept" in wrong.text
    assert 'value="@jm_2014"' in wrong.text, "where it was captured is kept"
    screenshot = PNG + b"later"
    added = staff.post(
        f"/cases/{case_id}/evidence/add",
        data={"evidence_source": "@jm_2014", "csrf_token": token},
        files=[("evidence", ("second-message.png", screenshot, "image/png"))],
    )
    assert added.status_code == 200 and "second-message.png" in added.text
    digest = hashlib.sha256(screenshot).hexdigest()
    assert digest in added.text
    with transaction(url) as session:
        item = session.scalars(select(Evidence).where(Evidence.case_id == case_id)).one()
        assert item.sha256 == digest and item.source == "@jm_2014"
        saved = session.scalars(
            select(AuditEvent).where(
                AuditEvent.case_id == case_id, AuditEvent.kind == "evidence.saved"
            )
        ).one()
        assert saved.data["sha256"] == digest
    note = staff.post(f"/cases/{case_id}/notes", data={"note": "Hello", "csrf_token": token})
    assert note.status_code == 403


def test_no_file_is_ever_added_to_a_sexual_images_case(
    signed_in: Callable[[str], TestClient], configured: Settings
) -> None:
    url = configured.database_url
    case_id = make_case(url)
    with transaction(url) as session:
        case = session.get(Case, case_id)
        assert case is not None
        case.safeguarding = True
    dsl = signed_in(DSL)
    assert "Add evidence" not in dsl.get(f"/cases/{case_id}").text
    page = dsl.get(f"/cases/{case_id}/evidence/add")
    assert page.status_code == 409 and "sexual images" in page.text
    sent = dsl.post(
        f"/cases/{case_id}/evidence/add",
        data={"csrf_token": csrf_of(dsl.get(f"/cases/{case_id}").text)},
        files=[("evidence", ("x.png", PNG, "image/png"))],
    )
    assert sent.status_code == 409
    with transaction(url) as session:
        assert session.scalars(select(Evidence).where(Evidence.case_id == case_id)).all() == []


def test_the_case_lead_corrects_the_year_group_and_the_trail_keeps_both(
    signed_in: Callable[[str], TestClient], configured: Settings
) -> None:
    url = configured.database_url
    case_id = make_case(url)
    dsl = signed_in(DSL)
    form = dsl.get(f"/cases/{case_id}/correct")
    assert form.status_code == 200 and "Year 6" in form.text
    token = csrf_of(form.text)
    nothing = dsl.post(
        f"/cases/{case_id}/correct", data={"reason": "No change", "csrf_token": token}
    )
    assert nothing.status_code == 400 and "Nothing was changed" in nothing.text
    bad = dsl.post(
        f"/cases/{case_id}/correct",
        data={"pupil_year_group": "Year 99", "reason": "", "csrf_token": token},
    )
    assert bad.status_code == 400
    assert "year group from the list" in bad.text and "Give the reason" in bad.text
    done = dsl.post(
        f"/cases/{case_id}/correct",
        data={
            "pupil_year_group": "Year 5",
            "reason": "Entered wrongly at intake.",
            "csrf_token": token,
        },
    )
    assert done.status_code == 200 and "The correction is saved" in done.text
    assert "Year 5" in done.text
    assert "corrected pupil&#39;s year group from “Year 6” to “Year 5”" in done.text, "history"
    with transaction(url) as session:
        case = session.get(Case, case_id)
        assert case is not None and case.details["pupil_year_group"] == "Year 5"
        event = session.scalars(
            select(AuditEvent).where(
                AuditEvent.case_id == case_id, AuditEvent.kind == "case.corrected"
            )
        ).one()
        assert (event.data["before"], event.data["after"]) == ("Year 6", "Year 5")
        assert event.data["reason"] == "Entered wrongly at intake."


def test_staff_cannot_correct_withdraw_or_reopen(
    signed_in: Callable[[str], TestClient], configured: Settings
) -> None:
    url = configured.database_url
    case_id = make_case(url)
    staff = signed_in(reporter_email(url, case_id))
    for path in ("correct", "withdraw"):
        assert staff.get(f"/cases/{case_id}/{path}").status_code == 403
    other = make_case(url)
    staff.cookies.clear()
    stranger = signed_in(STAFF)
    assert stranger.get(f"/cases/{other}/withdraw").status_code in (403, 404)


def test_withdrawing_kills_links_stops_unsent_mail_and_reopening_asks_again(
    signed_in: Callable[[str], TestClient], configured: Settings
) -> None:
    url = configured.database_url
    case_id = make_case(url)
    token = make_approval(url, case_id)
    dsl = signed_in(DSL)
    form = dsl.get(f"/cases/{case_id}/withdraw")
    csrf = csrf_of(form.text)
    short = dsl.post(f"/cases/{case_id}/withdraw", data={"reason": "", "csrf_token": csrf})
    assert short.status_code == 400 and "Give the reason" in short.text
    done = dsl.post(
        f"/cases/{case_id}/withdraw",
        data={"reason": "Reported twice by mistake.", "csrf_token": csrf},
    )
    assert done.status_code == 200 and "The case is withdrawn" in done.text
    assert "Reopen the case" in done.text
    with transaction(url) as session:
        case = session.get(Case, case_id)
        assert case is not None and case.status == CaseStatus.WITHDRAWN
        unsent = session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.case_id == case_id, OutboxMessage.status == "pending"
            )
        ).all()
        assert unsent == []
    dsl.cookies.clear()
    link = dsl.get(f"/approvals/{token}")
    assert link.status_code == 410 and "withdrawn" in link.text

    again = signed_in(DSL)
    reopen = again.get(f"/cases/{case_id}/reopen")
    assert reopen.status_code == 200
    reopened = again.post(
        f"/cases/{case_id}/reopen",
        data={
            "reason": "Not a duplicate after all.",
            "redo": "",
            "csrf_token": csrf_of(reopen.text),
        },
    )
    assert reopened.status_code == 200 and "open again" in reopened.text
    with transaction(url) as session:
        case = session.get(Case, case_id)
        assert case is not None and case.status == CaseStatus.OPEN
        live = session.scalars(
            select(Approval).where(Approval.case_id == case_id, Approval.superseded_at.is_(None))
        ).all()
        assert live == [], "the withdrawn request is not live: the procedure asks again"
    kinds = audit_kinds(url, case_id)
    assert kinds.index("case.withdrawn") < kinds.index("case.reopened")
    assert "request.withdrawn" in kinds


def test_a_corrected_account_is_what_search_finds(
    signed_in: Callable[[str], TestClient], configured: Settings
) -> None:
    url = configured.database_url
    case_id = make_case(url)
    dsl = signed_in(DSL)
    form = dsl.get(f"/cases/{case_id}/correct")
    done = dsl.post(
        f"/cases/{case_id}/correct",
        data={
            "pupil_account": "https://www.instagram.com/jay_k_2014/",
            "reason": "The account was left out of the report.",
            "csrf_token": csrf_of(form.text),
        },
    )
    assert done.status_code == 200 and "jay_k_2014" in done.text
    found = dsl.get("/search", params={"q": "@jay_k_2014"})
    assert found.status_code == 200 and f'href="/cases/{case_id}"' in found.text
