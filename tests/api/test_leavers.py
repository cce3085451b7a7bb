"""Requests waiting on someone who leaves, stops serving a school or changes role: passed on
at once, or kept and flagged when nobody can take them; and nothing of the case is shown to
anyone who may no longer see it. Real app, real sign-in, real database (SQLite and
PostgreSQL), real SMTP server and the real outbox sender."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from fastapi.testclient import TestClient

from casework.reconciler import send_reminders
from core.enums import IncidentType, StepKey
from core.settings import Settings
from db.approvals import open_request
from db.cases import mark_waiting
from db.models import Approval, ApprovalKind, Person
from db.people import serve, staff_by_email, stop_serving
from db.session import Session, transaction
from forms.people import PersonForm, SchoolForm
from mail.catcher import MailStore
from services.people import add_staff, create_school, disable
from tests.api.test_handover import events, holder, person_id, said, waiting_case
from tests.api.test_my_work import case_reference
from tests.casework.test_reminders import hours_pass
from tests.support import csrf_of, link_in, mail_to, make_case

HEAD = "head@oakfield.example"
DEPUTY = "deputy@oakfield.example"
DSL = "dsl@oakfield.example"
HR = "hr@oakfield.example"
CHAIR = "chair@oakfield.example"
ADMIN = "admin@oakfield.example"
NEW_HEAD = "nadia.khan@oakfield.example"
COUNTY_ADMIN = "jo.bell@county.example"
COUNCIL_HR = "sam.hill@county.example"
# What make_case reports: no page may show it to someone who may no longer see the case.
REPORT = "A test incident for the approval link."


def oakfield(session: Session) -> int:
    dsl = staff_by_email(session, DSL)
    assert dsl is not None
    return dsl.school_id


def path_of(link: str) -> str:
    """An emailed link's path, for the test client."""
    return link[link.index("/", len("http://")) :]


def council_hr_adviser(url: str) -> int:
    """An HR adviser of the county council's own office who serves Oakfield too."""
    with transaction(url) as session:
        county = create_school(session, None, SchoolForm(name="County Hall HR"), None)
        form = PersonForm(name="Sam Hill", email=COUNCIL_HR, role="hr")
        sam = add_staff(session, county.id, form, None)
        serve(session, sam.id, oakfield(session))
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
        assert stop_serving(session, sam_id, oakfield(session))

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


def post_person(client: TestClient, who: int, action: str = "", **fields: str) -> str:
    """Send a person's page's form (edit, or `action` such as "/disable") as an administrator
    does; the notice of what was done, from the page it comes back to."""
    page = client.get(f"/admin/people/{who}")
    assert page.status_code == 200, page.text
    sent = client.post(
        f"/admin/people/{who}{action}",
        data={**fields, "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert sent.status_code == 303, sent.text
    return said(client.get(sent.headers["location"]))


def head_asked_for_the_letter(
    url: str, mail: MailStore, deliver: Callable[[], int]
) -> tuple[int, str]:
    """A case waiting on the head's approval of its letter, and the link she was emailed."""
    case_id = waiting_case(url, StepKey.APPROVE_PARENT_LETTER)
    deliver()
    return case_id, path_of(link_in(mail_to(mail, HEAD, "your decision"), "/approvals/"))


def test_disabling_the_head_hands_her_letter_approval_to_the_deputy_at_once(
    configured: Settings,
    smtp: tuple[MailStore, int],
    deliver: Callable[[], int],
    signed_in: Callable[[str], TestClient],
) -> None:
    url = configured.database_url
    case_id, old_link = head_asked_for_the_letter(url, smtp[0], deliver)
    since = len(smtp[0].ids())

    admin = signed_in(ADMIN)
    notice = post_person(admin, person_id(url, HEAD), "/disable", reason="Retired at Easter.")
    assert "1 request waiting for them was passed on at once, to Kate Doyle" in notice
    assert REPORT not in notice

    (moved,) = events(url, case_id, "request.passed_on")
    assert moved.actor.startswith("Ian Marsh") and moved.data["reason"] == "account disabled"
    assert moved.data["from"] == "Helen Okafor" and moved.data["to"] == "Kate Doyle"
    deliver()
    mail = mail_to(smtp[0], DEPUTY, "your decision", since=since)
    assert "because the person who had it can no longer answer it" in mail.text
    assert "Retired" not in mail.raw and "disabled" not in mail.raw, "why stays off email"
    new_link = path_of(link_in(mail, "/approvals/"))
    # The deputy steps up (the letter is signed by a headteacher): it stays with her.
    kate_id = person_id(url, DEPUTY)
    saved = post_person(admin, kate_id, name="Kate Doyle", email=DEPUTY, role="headteacher")
    assert "Saved." in saved and "passed on" not in saved
    assert holder(url, case_id, StepKey.APPROVE_PARENT_LETTER)[0] == DEPUTY

    admin.cookies.clear()
    old = admin.get(old_link)
    assert old.status_code == 410 and "passed to someone else" in old.text
    kate = signed_in(DEPUTY)
    listing = kate.get("/work").text
    assert (
        case_reference(url, case_id) in listing and "approves the letter to all parents" in listing
    )
    kate.cookies.clear()
    form = kate.get(new_link)
    assert form.status_code == 200 and "Record my decision" in form.text
    done = kate.post(
        new_link,
        data={
            "decision": "rejected",
            "reason": "We wrote to parents last week.",
            "csrf_token": csrf_of(form.text),
        },
    )
    assert done.status_code == 200 and "Your answer is recorded" in done.text
    (decided,) = events(url, case_id, "approval.decided")
    assert decided.actor.startswith("Kate Doyle")


def test_an_hr_adviser_taken_off_a_school_has_their_request_passed_to_one_who_serves_it(
    configured: Settings,
    smtp: tuple[MailStore, int],
    deliver: Callable[[], int],
    signed_in: Callable[[str], TestClient],
    client: TestClient,
) -> None:
    url = configured.database_url
    sam_id = council_hr_adviser(url)
    with transaction(url) as session:
        county = session.get(Person, sam_id).school_id  # type: ignore[union-attr]
        form = PersonForm(name="Jo Bell", email=COUNTY_ADMIN, role="admin")
        serve(session, add_staff(session, county, form, None).id, oakfield(session))
    case_id = make_case(url, IncidentType.STAFF_CONDUCT)
    request_id, link = waiting_on(url, case_id, StepKey.RECORD_HR_ADVICE, COUNCIL_HR)
    sam = signed_in(COUNCIL_HR)
    assert REPORT in sam.get(f"/work/{request_id}").text, "while they serve the school"
    sam_cookies = dict(client.cookies)
    client.cookies.clear()

    jo = signed_in(COUNTY_ADMIN)
    since = len(smtp[0].ids())
    notice = post_person(jo, sam_id, name="Sam Hill", email=COUNCIL_HR, role="hr")
    assert "1 request waiting for them was passed on at once, to Priya Shah" in notice
    (moved,) = events(url, case_id, "request.passed_on")
    assert moved.data["reason"] == "no longer serves the school"
    assert moved.data["from"] == "Sam Hill" and moved.data["to"] == "Priya Shah"
    assert moved.actor.startswith("Jo Bell")
    deliver()
    assert "/tasks/" in " ".join(mail_to(smtp[0], HR, "please record", since=since).links)

    client.cookies.clear()
    client.cookies.update(sam_cookies)
    assert "Nothing is waiting for you" in sam.get("/work").text
    mine = sam.get(f"/work/{request_id}")
    assert mine.status_code == 404 and REPORT not in mine.text
    for page in (sam.get(link), sam.post(link, data={"csrf_token": csrf_of(sam.get("/").text)})):
        assert page.status_code == 410 and REPORT not in page.text


def test_a_request_nobody_can_take_is_kept_flagged_and_the_case_lead_told(
    configured: Settings,
    smtp: tuple[MailStore, int],
    deliver: Callable[[], int],
    signed_in: Callable[[str], TestClient],
) -> None:
    url = configured.database_url
    case_id, link = head_asked_for_the_letter(url, smtp[0], deliver)
    with transaction(url) as session:  # the deputy and the chair have left already
        for email in (DEPUTY, CHAIR):
            gone = staff_by_email(session, email)
            assert gone is not None
            disable(session, gone, None, "Left the school")
    since = len(smtp[0].ids())

    admin = signed_in(ADMIN)
    notice = post_person(admin, person_id(url, HEAD), "/disable", reason="Left the school")
    assert "1 request could not be passed on, because nobody else at the school can take" in (
        notice
    )
    assert "passed on at once" not in notice
    assert holder(url, case_id, StepKey.APPROVE_PARENT_LETTER)[0] == HEAD, "kept, not lost"
    assert events(url, case_id, "request.passed_on") == []
    (stranded,) = events(url, case_id, "request.stranded")
    assert stranded.data["why"] == "account disabled" and stranded.data["with"] == "Helen Okafor"

    deliver()
    told = mail_to(smtp[0], DSL, "needs someone to answer it", since=since)
    assert case_reference(url, case_id) in told.subject and f"/cases/{case_id}" in told.text
    assert REPORT not in told.raw and "Helen" not in told.raw, "content-free"
    admin.cookies.clear()
    assert admin.get(link).status_code == 410, "her link answers nothing"
    page = said(signed_in(DSL).get(f"/cases/{case_id}"))
    assert "Helen Okafor should no longer hold this (account disabled), but Casework found " in (
        page
    )
    assert "nobody else who can take it" in page

    hours_pass(url, case_id, 25)
    assert send_reminders() == 0, "no reminder goes to someone who may not answer"
    with transaction(url) as session:
        oak = oakfield(session)
        form = PersonForm(name="Nadia Khan", email=NEW_HEAD, role="headteacher")
        add_staff(session, oak, form, None)
    assert send_reminders() == 1, "once someone holds the role, the reminder goes to them"
    assert holder(url, case_id, StepKey.APPROVE_PARENT_LETTER)[0] == NEW_HEAD
    page = said(signed_in(DSL).get(f"/cases/{case_id}"))
    assert "should no longer hold this" not in page
