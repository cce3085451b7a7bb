"""Reporting an incident: bad input is explained and saves nothing; good input opens a case."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from core.settings import Settings, get_settings
from db.models import AuditEvent, Case, Evidence, OutboxMessage
from mail.catcher import MailStore
from tests.support import (
    PDF,
    PNG,
    SQLITE_ONLY,
    audit_kinds,
    case_id_of,
    case_path_of,
    case_row,
    count,
    csrf_of,
    report_fields,
    signin,
    submit_report,
)

STAFF = "amy.fletcher@oakfield.example"


def nothing_saved(settings: Settings) -> None:
    url = settings.database_url
    assert count(url, Case) == 0
    assert count(url, Evidence) == 0
    assert count(url, OutboxMessage, OutboxMessage.kind == "case_opened") == 0
    assert count(url, AuditEvent, AuditEvent.case_id.is_not(None)) == 0
    stored = list(settings.evidence_dir.glob("*")) if settings.evidence_dir.exists() else []
    assert stored == [], "no evidence file may outlive a failed submission"


def test_a_visitor_who_is_not_signed_in_is_sent_to_sign_in(client: TestClient) -> None:
    answer = client.get("/report/pupil_contact", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/signin?next=/report/pupil_contact"


def test_missing_answers_are_listed_and_nothing_is_saved(
    signed_in: Callable[[str], TestClient], configured: Settings
) -> None:
    client = signed_in(STAFF)
    page = client.get("/report/pupil_contact")
    answer = client.post(
        "/report/pupil_contact",
        data={"csrf_token": csrf_of(page.text), "description": "Kept: the text I typed."},
    )
    assert answer.status_code == 400
    assert "There is a problem" in answer.text
    assert "Choose the platform the pupil used." in answer.text
    assert "Attach at least one screenshot or document as evidence." in answer.text
    assert "Kept: the text I typed." in answer.text, "what was typed is not lost"
    nothing_saved(configured)


def test_a_file_that_is_not_a_screenshot_or_pdf_is_refused(
    signed_in: Callable[[str], TestClient], configured: Settings
) -> None:
    client = signed_in(STAFF)
    answer = submit_report(client, [("notes.png", b"MZ\x90\x00 a program", "image/png")])
    assert answer.status_code == 400
    assert "notes.png is not a file type we accept" in answer.text
    assert 'value="Jordan Miles"' in answer.text
    nothing_saved(configured)


def test_an_oversized_file_is_refused_with_its_name(
    signed_in: Callable[[str], TestClient], configured: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = signed_in(STAFF)
    monkeypatch.setenv("CASEWORK_MAX_FILE_BYTES", str(1024 * 1024))
    get_settings.cache_clear()
    answer = submit_report(client, [("huge.png", PNG + b"0" * (1024 * 1024), "image/png")])
    assert answer.status_code == 413
    assert "huge.png is larger than 1 MB" in answer.text and "Nothing was saved" in answer.text
    nothing_saved(get_settings())


def test_an_oversized_upload_is_stopped_with_413_before_it_is_read(
    signed_in: Callable[[str], TestClient], configured: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = signed_in(STAFF)
    monkeypatch.setenv("CASEWORK_MAX_REQUEST_BYTES", str(200_000))
    get_settings.cache_clear()
    answer = submit_report(client, [("big.pdf", PDF + b"0" * 300_000, "application/pdf")])
    assert answer.status_code == 413
    assert "The upload is too large" in answer.text and "Nothing was saved" in answer.text
    nothing_saved(get_settings())


def test_a_form_without_its_csrf_token_is_refused(
    signed_in: Callable[[str], TestClient], configured: Settings
) -> None:
    client = signed_in(STAFF)
    answer = client.post(
        "/report/pupil_contact",
        data=report_fields(),
        files=[("evidence", ("a.png", PNG, "image/png"))],
    )
    assert answer.status_code == 403
    assert "This form has expired or came from another site" in answer.text
    nothing_saved(configured)


def test_api_clients_get_json_errors(
    signed_in: Callable[[str], TestClient], configured: Settings
) -> None:
    client = signed_in(STAFF)
    page = client.get("/report/pupil_contact")
    answer = client.post(
        "/report/pupil_contact",
        headers={"accept": "application/json"},
        data={"csrf_token": csrf_of(page.text), "platform": "myspace"},
    )
    assert answer.status_code == 400
    body = answer.json()["error"]
    assert body["status"] == 400 and body["fields"]["platform"] == (
        "Choose the platform the pupil used."
    )
    missing = client.get("/api/cases/999")
    assert missing.status_code == 404 and "message" in missing.json()["error"]


def test_auditors_read_but_do_not_report(signed_in: Callable[[str], TestClient]) -> None:
    client = signed_in("auditor@oakfield.example")
    answer = client.get("/report/pupil_contact")
    assert answer.status_code == 403 and "(auditor) cannot report an incident" in answer.text


def test_a_good_report_opens_the_case_in_one_transaction(
    signed_in: Callable[[str], TestClient], configured: Settings
) -> None:
    client = signed_in(STAFF)
    answer = submit_report(
        client, [("one.png", PNG, "image/png"), ("two.pdf", PDF, "application/pdf")]
    )
    assert answer.status_code == 303
    case_id = case_id_of(answer)
    url = configured.database_url
    kinds = audit_kinds(url, case_id)
    assert kinds == [
        "case.opened",
        "evidence.saved",
        "evidence.saved",
        "step.skipped",  # no sexual images: the DSL alert is not needed
        "step.skipped",  # nor the police/CEOP referral
    ], "the head's notice is left to the worker's hand-off"
    stored = {p.read_bytes() for p in Path(configured.evidence_dir).iterdir()}
    assert stored == {PNG, PDF}, "originals are kept byte for byte"
    page = client.get(f"/cases/{case_id}")
    assert hashlib.sha256(PNG).hexdigest() in page.text
    download = client.get(f"/cases/{case_id}/evidence/1")
    assert download.content in (PNG, PDF)
    assert download.headers["content-disposition"].startswith("attachment")


def test_staff_cannot_see_someone_elses_case(
    signed_in: Callable[[str], TestClient], configured: Settings
) -> None:
    client = signed_in(STAFF)
    answer = submit_report(client, [("one.png", PNG, "image/png")])
    case_path = case_path_of(answer)
    client.cookies.clear()
    other = signed_in("tom.byrne@oakfield.example")
    hidden = other.get(case_path)
    assert hidden.status_code == 404
    assert other.get(case_path + "/evidence/1").status_code == 404


def test_a_school_without_a_headteacher_is_told_what_to_set_up(
    signed_in: Callable[[str], TestClient], configured: Settings
) -> None:
    from sqlalchemy import update

    from db.models import Person, Role
    from db.session import transaction

    client = signed_in(STAFF)
    with transaction(configured.database_url) as session:
        session.execute(update(Person).where(Person.role == Role.HEADTEACHER).values(active=False))
    answer = submit_report(client, [("chat.png", PNG, "image/png")])
    assert answer.status_code == 409
    assert "The school has no active headteacher in Casework." in answer.text
    assert "Ask whoever looks after Casework" in answer.text
    nothing_saved(configured)


@SQLITE_ONLY  # the web layer's order of work; the procedure's start is tested end to end
def test_the_web_app_never_calls_prefect_for_a_report(
    live_server: str,
    smtp: tuple[MailStore, int],
    configured: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A report is answered without a call to Prefect's server, however busy that is: the
    worker's hand-off creates the case's flow run afterwards."""
    from casework.handoff import handoff_once
    from flows import trigger
    from mail.sender import deliver_due

    started: list[int] = []

    def record_start(case_id: int, kind: object) -> str:
        started.append(case_id)
        return "run-made-by-the-worker"

    monkeypatch.setattr(trigger, "start_case_flow", record_start)
    with httpx.Client(base_url=live_server, timeout=20) as client:
        signin(client, STAFF, smtp[0], lambda: asyncio.run(deliver_due(get_settings())))
        answer = submit_report(client, [("shot.png", PNG, "image/png")])
    assert answer.status_code == 303, answer.text
    case_id = case_id_of(answer)
    assert started == [], "the web app called Prefect"
    assert case_row(configured.database_url, case_id).flow_run_id is None
    url = configured.database_url

    def told(who: str) -> int:
        return count(
            url, OutboxMessage, OutboxMessage.kind == "case_opened", OutboxMessage.to_addr == who
        )

    heads = ("head@oakfield.example", "dsl@oakfield.example")
    assert [told(who) for who in heads] == [0, 0], "the report's request rendered no notice"
    assert handoff_once() == (1, 0)
    assert started == [case_id]
    assert case_row(url, case_id).flow_run_id == "run-made-by-the-worker"
    assert [told(who) for who in heads] == [1, 1], "the head and the lead (DSL) are told"
    assert handoff_once() == (0, 0)
    assert [told(who) for who in heads] == [1, 1], "and told once"


def test_every_bad_file_is_named_and_every_answer_kept(
    signed_in: Callable[[str], TestClient], configured: Settings
) -> None:
    client = signed_in(STAFF)
    page = client.get("/report/pupil_contact")
    answers = {
        **report_fields(),
        "occurred_at-day": "20",
        "occurred_at-month": "11",
        "occurred_at-year": "2026",
        "occurred_at-time": "6:30pm",
        "evidence_source": "instagram.com/some.account",
        "csrf_token": csrf_of(page.text),
    }
    del answers["occurred_at"]
    uploads = [
        ("evidence", ("empty.png", b"", "image/png")),
        ("evidence", ("fine.png", PNG, "image/png")),
        ("evidence", ("program.pdf", b"MZ\x90\x00", "application/pdf")),
    ]
    answer = client.post("/report/pupil_contact", data=answers, files=uploads)

    assert answer.status_code == 400
    assert "<title>Error: " in answer.text
    assert "empty.png is empty" in answer.text
    assert "program.pdf is not a file type we accept" in answer.text
    assert "fine.png" not in answer.text.split("There is a problem")[1].split("</ul>")[0]
    for kept in ('value="instagram.com/some.account"', 'value="20"', 'value="6:30pm"'):
        assert kept in answer.text, f"{kept} is lost after the failed submit"
    nothing_saved(configured)


@pytest.mark.parametrize(
    ("day", "month", "year", "time", "message"),
    [
        ("", "11", "", "14:30", "The date must include a day and a year."),
        ("31", "2", "2026", "14:30", "Enter a real date, for example 22 11 2026."),
        ("20", "11", "26", "14:30", "Enter the year as 4 digits, for example 2026."),
        ("20", "11", "2026", "", "Enter the time, for example 14:30 or 2:30pm."),
        ("20", "11", "2026", "25:00", "Enter a real time, for example 14:30 or 2:30pm."),
        ("20", "11", "2099", "14:30", "The date and time cannot be in the future."),
    ],
)
def test_a_date_typed_in_boxes_is_checked_in_words(
    signed_in: Callable[[str], TestClient],
    configured: Settings,
    day: str,
    month: str,
    year: str,
    time: str,
    message: str,
) -> None:
    client = signed_in(STAFF)
    page = client.get("/report/pupil_contact")
    fields = {k: v for k, v in report_fields().items() if k != "occurred_at"}
    boxes = {"day": day, "month": month, "year": year, "time": time}
    typed = {f"occurred_at-{part}": value for part, value in boxes.items()}
    answer = client.post(
        "/report/pupil_contact",
        data={**fields, **typed, "csrf_token": csrf_of(page.text)},
        files=[("evidence", ("shot.png", PNG, "image/png"))],
    )
    assert answer.status_code == 400
    assert message in answer.text
    nothing_saved(configured)
