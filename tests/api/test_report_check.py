"""Reporting in a browser: the start page, checking the answers before sending, and the
confirmation. A report is a draft until its sender sends it; only they can see it; it is
sent once however often they press; an old one is deleted with its files."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from core.settings import Settings
from db.models import Case, Evidence, ReportDraft, utcnow
from db.session import transaction
from services.drafts import quarantine_files
from tests.support import (
    PDF,
    PNG,
    SQLITE_ONLY,
    case_id_of,
    confirm_report,
    count,
    csrf_of,
    post_report,
    report_fields,
)

STAFF = "amy.fletcher@oakfield.example"
OTHER = "tom.byrne@oakfield.example"
FILES = [("first.png", PNG, "image/png"), ("chat.pdf", PDF, "application/pdf")]
CHECK = re.compile(r"^/report/pupil_contact/check/([A-Za-z0-9_-]+)$")


def quarantined() -> set[bytes]:
    folder = quarantine_files().directory
    return {p.read_bytes() for p in folder.iterdir()} if folder.exists() else set()


def drafted(client: TestClient, files: list[tuple[str, bytes, str]] = FILES, **answers: str) -> str:
    """A pupil-contact report sent from its form; returns its check page's address."""
    fields = {**report_fields(**answers), "evidence_source": "instagram.com/jordan.m"}
    answer = post_report(client, "pupil_contact", fields, files)
    assert answer.status_code == 303, answer.text
    check = answer.headers["location"]
    assert CHECK.match(check), check
    return str(check)


def age(url: str, hours: float) -> None:
    """Make every draft `hours` older."""
    with transaction(url) as session:
        for draft in session.scalars(select(ReportDraft)):
            draft.created_at = draft.created_at - timedelta(hours=hours)


# --- The start page ------------------------------------------------------------------------


@SQLITE_ONLY
def test_the_start_page_says_when_to_use_casework_and_when_to_go_to_someone_first(
    signed_in: Callable[[str], TestClient],
) -> None:
    page = signed_in(STAFF).get("/report")
    assert page.status_code == 200
    text = page.text
    assert "<h1" in text and "Report a social media incident" in text
    assert "call 999" in text
    assert "go to the designated safeguarding lead in person" in text
    assert "sexual images of a child" in text
    assert text.count('name="what_happened" type="radio"') == 4
    assert "GOV.UK" not in text


@SQLITE_ONLY
@pytest.mark.parametrize(
    ("answer", "form_title"),
    [
        ("pupil_contact", "A pupil contacted you on social media"),
        ("parent_contact", "A parent or carer contacted you on social media"),
        ("online_abuse", "Harassment or offensive material online"),
        ("staff_conduct", "A member of staff may have breached the social media policy"),
    ],
)
def test_each_answer_to_what_happened_leads_to_its_form(
    signed_in: Callable[[str], TestClient], answer: str, form_title: str
) -> None:
    client = signed_in(STAFF)
    token = csrf_of(client.get("/report").text)
    chosen = client.post(
        "/report", data={"what_happened": answer, "csrf_token": token}, follow_redirects=False
    )
    assert chosen.status_code == 303
    assert chosen.headers["location"] == f"/report/{answer}"
    assert form_title in client.get(chosen.headers["location"]).text


@SQLITE_ONLY
@pytest.mark.parametrize("sent", [{}, {"what_happened": ""}, {"what_happened": "nonsense"}])
def test_continuing_without_an_answer_says_what_to_do(
    signed_in: Callable[[str], TestClient], sent: dict[str, str]
) -> None:
    client = signed_in(STAFF)
    token = csrf_of(client.get("/report").text)
    answer = client.post("/report", data={**sent, "csrf_token": token}, follow_redirects=False)
    assert answer.status_code == 400
    assert "<title>Error: " in answer.text and "There is a problem" in answer.text
    assert '<a href="#what_happened">Choose what happened' in answer.text
    assert 'id="what_happened-error"' in answer.text


# --- Check, change, send --------------------------------------------------------------------


def test_a_report_is_checked_changed_and_sent_once_with_its_evidence(
    signed_in: Callable[[str], TestClient], configured: Settings
) -> None:
    client = signed_in(STAFF)
    url = configured.database_url
    check = drafted(client)
    assert count(url, Case) == 0, "nothing is sent before the answers are checked"
    assert quarantined() == {PNG, PDF}
    assert not configured.evidence_dir.exists() or not list(configured.evidence_dir.iterdir())

    page = client.get(check)
    assert page.status_code == 200
    for label, answer in (
        ("Platform", "Instagram"),
        ("When it happened", "20 November 2026, 18:30"),
        ("What happened", "A pupil sent me a follow request and two direct messages."),
        ("Pupil&#39;s full name", "Jordan Miles"),
        ("Pupil&#39;s year group", "Year 6"),
        ("Admission number or UPN", "A1234"),
        ("Did the pupil keep making contact?", "Yes, the contact continued"),
        ("Did the material include sexual images of a child?", "No, it did not"),
    ):
        row = re.search(
            rf'__key">{re.escape(label)}</dt>\s*<dd class="govuk-summary-list__value[^"]*">'
            rf"{re.escape(answer)}</dd>",
            page.text,
        )
        assert row, f"{label}: {answer} is not on the check page"
    labels = re.findall(r'__key">([^<]+)</dt>', page.text)
    assert labels.index("Platform") < labels.index("Pupil&#39;s full name"), "the form's order"
    assert "first.png (" in page.text and "chat.pdf (" in page.text
    assert "instagram.com/jordan.m" in page.text
    token = check.rsplit("/", 1)[1]
    change = f"/report/pupil_contact?draft={token}"
    assert f'href="{change}#pupil_name"' in page.text

    form = client.get(change)
    assert form.status_code == 200
    assert 'value="Jordan Miles"' in form.text and 'value="instagram.com/jordan.m"' in form.text
    assert f'name="draft" value="{token}"' in form.text
    assert "You have already attached" in form.text and "first.png" in form.text
    fields = {
        **report_fields(pupil_name="Jordan Mills"),
        "evidence_source": "instagram.com/jordan.m",
        "draft": token,
        "csrf_token": csrf_of(form.text),
    }
    changed = client.post("/report/pupil_contact", data=fields, follow_redirects=False)
    assert changed.status_code == 303 and changed.headers["location"] == check, "same draft"
    again = client.get(check).text
    assert "Jordan Mills" in again and "Jordan Miles" not in again
    assert "first.png (" in again, "the files are kept when no new ones are attached"
    assert count(url, ReportDraft) == 1 and count(url, Case) == 0

    sent = confirm_report(client, check)
    assert sent.status_code == 303 and sent.headers["location"].startswith("/report/sent/")
    case_id = case_id_of(sent)
    confirmation = client.get(sent.headers["location"])
    assert confirmation.status_code == 200
    reference = _reference(url, case_id)
    assert "govuk-panel--confirmation" in confirmation.text and "Report sent" in confirmation.text
    assert reference in confirmation.text
    assert "What happens next" in confirmation.text
    assert "do not reply to the pupil" in confirmation.text
    assert f'href="/cases/{case_id}"' in confirmation.text

    assert count(url, Case) == 1
    with transaction(url) as session:
        case = session.get(Case, case_id)
        assert case is not None and case.details["pupil_name"] == "Jordan Mills"
        kept = session.scalars(select(Evidence).where(Evidence.case_id == case_id)).all()
        assert sorted((e.original_filename, e.sha256, e.source) for e in kept) == sorted(
            (name, hashlib.sha256(body).hexdigest(), "instagram.com/jordan.m")
            for name, body, _ in FILES
        )
        receipt = session.scalars(select(ReportDraft)).one()
        assert receipt.case_id == case_id and receipt.answers == {} and receipt.files == []
    assert {p.read_bytes() for p in Path(configured.evidence_dir).iterdir()} == {PNG, PDF}
    assert quarantined() == set(), "the files moved to the evidence"


def _reference(url: str, case_id: int) -> str:
    with transaction(url) as session:
        case = session.get(Case, case_id)
        assert case is not None
        return case.reference


def test_pressing_send_twice_opens_one_case(
    signed_in: Callable[[str], TestClient], configured: Settings
) -> None:
    client = signed_in(STAFF)
    check = drafted(client)
    page = client.get(check)
    token = csrf_of(page.text)
    first = client.post(check, data={"csrf_token": token}, follow_redirects=False)
    second = client.post(check, data={"csrf_token": token}, follow_redirects=False)
    assert first.status_code == 303
    assert second.status_code == 409
    case_id = case_id_of(first)
    assert "This report has already been sent" in second.text
    assert _reference(configured.database_url, case_id) in second.text
    assert f'href="/cases/{case_id}"' in second.text
    assert count(configured.database_url, Case) == 1
    revisited = client.get(check)
    assert revisited.status_code == 409 and "already been sent" in revisited.text


def test_a_case_opens_only_together_with_its_draft_marked_sent(
    signed_in: Callable[[str], TestClient],
    configured: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Were the process to die between the two, a later press would open a second case."""
    client = signed_in(STAFF)
    check = drafted(client)
    token = csrf_of(client.get(check).text)

    def dies(*_: object) -> None:
        raise RuntimeError("the process stopped here")

    monkeypatch.setattr("services.drafts.mark_sent", dies)
    with pytest.raises(RuntimeError):
        client.post(check, data={"csrf_token": token}, follow_redirects=False)
    assert count(configured.database_url, Case) == 0, "no case without the draft's mark"
    monkeypatch.undo()
    sent = client.post(check, data={"csrf_token": token}, follow_redirects=False)
    assert sent.status_code == 303 and count(configured.database_url, Case) == 1


def test_going_back_to_the_form_after_sending_does_not_send_it_again(
    signed_in: Callable[[str], TestClient], configured: Settings
) -> None:
    client = signed_in(STAFF)
    check = drafted(client)
    form = client.get(f"/report/pupil_contact?draft={check.rsplit('/', 1)[1]}")
    assert confirm_report(client, check).status_code == 303
    fields = {**report_fields(), "draft": check.rsplit("/", 1)[1], "csrf_token": csrf_of(form.text)}
    resent = client.post(
        "/report/pupil_contact",
        data=fields,
        files=[("evidence", ("first.png", PNG, "image/png"))],
        follow_redirects=False,
    )
    assert resent.status_code == 409 and "already been sent" in resent.text
    assert count(configured.database_url, Case) == 1


def test_a_second_press_while_the_first_is_still_sending_opens_nothing(
    signed_in: Callable[[str], TestClient],
    configured: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from api.routes import report_form

    client = signed_in(STAFF)
    check = drafted(client)
    page = client.get(check)
    with transaction(configured.database_url) as session:
        session.execute(update(ReportDraft).values(claimed_at=utcnow()))
    monkeypatch.setattr(report_form, "sent_case", lambda draft_id: None)
    answer = client.post(check, data={"csrf_token": csrf_of(page.text)}, follow_redirects=False)
    assert answer.status_code == 409 and "still being saved" in answer.text
    assert count(configured.database_url, Case) == 0


def test_new_files_replace_the_drafts_and_images_of_a_child_remove_them(
    signed_in: Callable[[str], TestClient], configured: Settings
) -> None:
    client = signed_in(STAFF)
    check = drafted(client)
    token = check.rsplit("/", 1)[1]
    form = client.get(f"/report/pupil_contact?draft={token}")
    replaced = client.post(
        "/report/pupil_contact",
        data={**report_fields(), "draft": token, "csrf_token": csrf_of(form.text)},
        files=[("evidence", ("later.png", PNG + b"later", "image/png"))],
        follow_redirects=False,
    )
    assert replaced.headers["location"] == check
    assert quarantined() == {PNG + b"later"}, "the earlier files are erased"
    assert "later.png (" in client.get(check).text

    images = {
        **report_fields(sexual_images="yes", image_description="Two photos in a group chat."),
        "draft": token,
        "csrf_token": csrf_of(form.text),
    }
    answer = client.post("/report/pupil_contact", data=images, follow_redirects=False)
    assert answer.headers["location"] == check
    assert quarantined() == set(), "no file is kept with such a report"
    page = client.get(check).text
    assert "No files. You said the material includes sexual images of a child" in page
    sent = confirm_report(client, check)
    assert sent.status_code == 303
    assert count(configured.database_url, Evidence) == 0


def test_a_changed_report_with_a_problem_keeps_its_draft_and_files(
    signed_in: Callable[[str], TestClient], configured: Settings
) -> None:
    client = signed_in(STAFF)
    check = drafted(client)
    token = check.rsplit("/", 1)[1]
    form = client.get(f"/report/pupil_contact?draft={token}")
    answer = client.post(
        "/report/pupil_contact",
        data={**report_fields(pupil_name=""), "draft": token, "csrf_token": csrf_of(form.text)},
    )
    assert answer.status_code == 400
    assert "Enter the pupil&#39;s name" in answer.text
    assert f'name="draft" value="{token}"' in answer.text and "first.png" in answer.text
    assert quarantined() == {PNG, PDF}
    assert "Jordan Miles" in client.get(check).text, "the draft is as it was"


def test_a_file_changed_in_quarantine_is_asked_for_again(
    signed_in: Callable[[str], TestClient], configured: Settings
) -> None:
    client = signed_in(STAFF)
    check = drafted(client, files=[("first.png", PNG, "image/png")])
    stored = next(quarantine_files().directory.iterdir())
    stored.chmod(0o600)
    stored.write_bytes(PNG + b"tampered")
    answer = confirm_report_raw(client, check)
    assert answer.status_code == 400
    assert "We could not read back first.png. Attach your evidence again." in answer.text
    assert 'value="Jordan Miles"' in answer.text
    assert count(configured.database_url, Case) == 0
    assert quarantined() == set()


def confirm_report_raw(client: TestClient, check: str) -> httpx.Response:
    page = client.get(check)
    return client.post(check, data={"csrf_token": csrf_of(page.text)}, follow_redirects=False)


# --- Whose it is, and how long it lives -------------------------------------------------------


def test_only_the_person_who_wrote_a_draft_can_see_change_or_send_it(
    signed_in: Callable[[str], TestClient], configured: Settings
) -> None:
    client = signed_in(STAFF)
    check = drafted(client)
    token = check.rsplit("/", 1)[1]
    client.cookies.clear()
    other = signed_in(OTHER)
    form_token = csrf_of(other.get("/report").text)
    for answer in (
        other.get(check),
        other.post(check, data={"csrf_token": form_token}),
        other.get(f"/report/pupil_contact?draft={token}"),
        other.get(f"/report/parent_contact/check/{token}"),
        other.get("/report/pupil_contact/check/not-a-real-token"),
    ):
        assert answer.status_code == 404, answer.text
        assert "There is no report waiting to be sent at this address" in answer.text
        assert "Jordan" not in answer.text
    assert count(configured.database_url, Case) == 0


def test_the_confirmation_is_only_for_the_person_who_sent_the_report(
    signed_in: Callable[[str], TestClient], configured: Settings
) -> None:
    client = signed_in(STAFF)
    sent = confirm_report(client, drafted(client))
    client.cookies.clear()
    other = signed_in(OTHER)
    assert other.get(sent.headers["location"]).status_code == 404
    assert other.get("/report/sent/999999").status_code == 404


def test_a_draft_older_than_a_day_is_refused_and_deleted_with_its_files(
    signed_in: Callable[[str], TestClient], configured: Settings
) -> None:
    client = signed_in(STAFF)
    check = drafted(client)
    page = client.get(check)
    age(configured.database_url, 24.5)
    for answer in (
        client.post(check, data={"csrf_token": csrf_of(page.text)}),
        client.get(check),
    ):
        if answer.status_code == 404:  # the first answer deleted it
            continue
        assert answer.status_code == 410
        assert "This report was deleted" in answer.text
        assert 'href="/report/pupil_contact">Start again' in answer.text
    assert count(configured.database_url, ReportDraft) == 0
    assert count(configured.database_url, Case) == 0
    assert quarantined() == set()


def test_the_worker_purges_old_drafts_and_stray_files(
    signed_in: Callable[[str], TestClient], configured: Settings
) -> None:
    from services.drafts import purge_expired

    client = signed_in(STAFF)
    drafted(client)
    age(configured.database_url, 25)
    fresh = drafted(client, files=[("new.png", PNG + b"new", "image/png")])
    store = quarantine_files().directory
    stray = store / "0123456789abcdef"
    stray.write_bytes(b"left by a request that died")
    old = (utcnow() - timedelta(hours=26)).timestamp()
    os.utime(stray, (old, old))
    assert purge_expired() == 1
    assert quarantined() == {PNG + b"new"}
    assert count(configured.database_url, ReportDraft) == 1
    assert client.get(fresh).status_code == 200


# --- API clients ------------------------------------------------------------------------------


def test_an_api_client_still_opens_the_case_in_one_step(
    signed_in: Callable[[str], TestClient], configured: Settings
) -> None:
    client = signed_in(STAFF)
    answer = post_report(client, "pupil_contact", report_fields(), FILES, accept="application/json")
    assert answer.status_code == 201
    body = answer.json()
    assert body == {"case_id": body["case_id"], "url": f"/cases/{body['case_id']}"}
    assert count(configured.database_url, Case) == 1
    assert count(configured.database_url, ReportDraft) == 0
    assert count(configured.database_url, Evidence) == 2
    assert quarantined() == set()
