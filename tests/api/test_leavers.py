"""Requests waiting on someone who leaves, stops serving a school or changes role: passed on
at once, or kept and flagged when nobody can take them; and nothing of the case is shown to
anyone who may no longer see it. Real app, real sign-in, real database (SQLite and
PostgreSQL), real SMTP server and the real outbox sender."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from core.enums import IncidentType, StepKey
from core.settings import Settings
from db.approvals import open_request
from db.cases import mark_waiting
from db.models import Approval, ApprovalKind, Person
from db.people import serve, staff_by_email, stop_serving
from db.session import transaction
from forms.people import PersonForm, SchoolForm
from services.people import add_staff, create_school
from tests.support import csrf_of, make_case

COUNCIL_HR = "sam.hill@county.example"
# What make_case reports: no page may show it to someone who may no longer see the case.
REPORT = "A test incident for the approval link."


def council_hr_adviser(url: str) -> int:
    """An HR adviser of the county council's own office who serves Oakfield too."""
    with transaction(url) as session:
        oak = session.scalars(select(Person.school_id).where(Person.role == "headteacher")).first()
        assert oak is not None
        county = create_school(session, None, SchoolForm(name="County Hall HR"), None)
        form = PersonForm(name="Sam Hill", email=COUNCIL_HR, role="hr")
        sam = add_staff(session, county.id, form, None)
        serve(session, sam.id, oak)
        return sam.id


def waiting_on(url: str, case_id: int, step: StepKey, email: str) -> tuple[int, str]:
    """A task left waiting on this person, as the flow leaves it: (its id, its link)."""
    with transaction(url) as session:
        person = staff_by_email(session, email)
        assert person is not None
        approval, token = open_request(
            session,
            case_id=case_id,
            step_key=step,
            kind=ApprovalKind.TASK,
            approver=person,
            ttl=timedelta(hours=72),
        )
        mark_waiting(session, case_id, step, person, approval.expires_at)
        assert token is not None
        return approval.id, f"/tasks/{token}"


def test_someone_no_longer_serving_the_school_is_shown_nothing_of_a_request_left_with_them(
    configured: Settings, signed_in: Callable[[str], TestClient]
) -> None:
    url = configured.database_url
    sam_id = council_hr_adviser(url)
    case_id = make_case(url, IncidentType.STAFF_CONDUCT)
    request_id, link = waiting_on(url, case_id, StepKey.RECORD_HR_ADVICE, COUNCIL_HR)
    sam = signed_in(COUNCIL_HR)
    assert REPORT in sam.get(f"/work/{request_id}").text, "while they serve the school"
    answer = {"advice": "Follow the staff code of conduct.", "csrf_token": ""}

    # Taken off the school's list behind the services' back: only the rule stands guard.
    with transaction(url) as session:
        oak = session.scalars(select(Person.school_id).where(Person.role == "headteacher")).one()
        assert stop_serving(session, sam_id, oak)

    listing = sam.get("/work")
    assert "Nothing is waiting for you" in listing.text
    answer["csrf_token"] = csrf_of(listing.text)
    for page in (sam.get(f"/work/{request_id}"), sam.post(f"/work/{request_id}", data=answer)):
        assert page.status_code == 410 and "has been passed on" in page.text
        assert REPORT not in page.text and "Record the outcome" not in page.text
    for page in (sam.get(link), sam.post(link, data=answer)):
        assert page.status_code == 410 and REPORT not in page.text
    sam.cookies.clear()
    assert sam.get(link).status_code == 410, "signed out, the link alone shows nothing either"
    with transaction(url) as session:
        approval = session.get(Approval, request_id)
        assert approval is not None and approval.decision is None
