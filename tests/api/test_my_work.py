"""My work: every request waiting for the signed-in person, answered in the app or by link."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from fastapi.testclient import TestClient

from core.settings import Settings
from db.cases import get_case
from db.models import Approval, AuditEvent
from db.session import transaction
from tests.support import csrf_of, make_approval, make_case

HEAD = "head@oakfield.example"
DSL = "dsl@oakfield.example"


def work_link(page: str, reference: str) -> str:
    """The My work address of the request listed for case `reference`."""
    row = next(line for line in page.split("<tr>") if reference in line)
    start = row.index('href="/work/') + len('href="')
    return row[start : row.index('"', start)]


def case_reference(url: str, case_id: int) -> str:
    with transaction(url) as session:
        return get_case(session, case_id).reference


def test_the_head_answers_in_the_app_and_the_emailed_link_then_refuses(
    signed_in: Callable[[str], TestClient], configured: Settings
) -> None:
    url = configured.database_url
    late = make_case(url)
    soon = make_case(url)
    late_token = make_approval(url, late, ttl=timedelta(hours=-2))  # the link has expired
    make_approval(url, soon, ttl=timedelta(hours=48))
    head = signed_in(HEAD)

    listing = head.get("/work")
    assert listing.status_code == 200
    late_ref, soon_ref = case_reference(url, late), case_reference(url, soon)
    assert listing.text.index(late_ref) < listing.text.index(soon_ref), "overdue first"
    assert "overdue" in listing.text.split(late_ref)[1].split("</tr>")[0]

    address = work_link(listing.text, late_ref)
    form = head.get(address)
    assert form.status_code == 200 and "Record my decision" in form.text
    assert "confirmation code" not in form.text, "signed in, no emailed code is asked for"
    blank = head.post(address, data={"csrf_token": csrf_of(form.text)})
    assert blank.status_code == 400 and "Choose" in blank.text
    done = head.post(
        address,
        data={"decision": "approved", "reason": "Fine to send.", "csrf_token": csrf_of(form.text)},
    )
    assert done.status_code == 200 and "Your answer is recorded" in done.text
    assert "Back to My work" in done.text

    after = head.get("/work")
    assert late_ref not in after.text and soon_ref in after.text
    head.cookies.clear()
    link = head.get(f"/approvals/{late_token}")
    assert link.status_code == 410 and "already been used" in link.text
    with transaction(url) as session:
        event = session.query(AuditEvent).filter_by(case_id=late, kind="approval.decided").one()
        assert event.data["via"] == "app" and "(headteacher)" in event.actor


def test_a_request_is_only_answered_by_the_person_it_waits_for(
    signed_in: Callable[[str], TestClient], configured: Settings
) -> None:
    url = configured.database_url
    case_id = make_case(url)
    make_approval(url, case_id)
    with transaction(url) as session:
        approval_id = session.query(Approval).filter_by(case_id=case_id).one().id
    dsl = signed_in(DSL)
    assert "Nothing is waiting for you" in dsl.get("/work").text
    page = dsl.get(f"/work/{approval_id}")
    assert page.status_code == 404 and "not waiting for you" in page.text
    refused = dsl.post(
        f"/work/{approval_id}",
        data={"decision": "approved", "csrf_token": csrf_of(dsl.get("/work").text)},
    )
    assert refused.status_code == 404
    with transaction(url) as session:
        assert session.query(Approval).filter_by(case_id=case_id).one().decision is None


def test_my_work_needs_signing_in(client: TestClient) -> None:
    answer = client.get("/work", follow_redirects=False)
    assert answer.status_code in (303, 401)
