"""Administrators set up schools and people from the pages; every change is audited."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import select

from core.enums import AuditKind, IncidentType, Phase, Role
from core.settings import Settings
from db.models import Approval, AuditEvent, DecisionCode, OutboxMessage, Person, School
from db.people import staff_by_email
from db.session import transaction
from mail.catcher import MailStore
from tests.support import count, csrf_of, first_step, make_approval, make_case

ADMIN = "admin@oakfield.example"


def events(url: str, kind: AuditKind) -> list[AuditEvent]:
    with transaction(url) as session:
        rows = list(session.scalars(select(AuditEvent).where(AuditEvent.kind == kind)))
        session.expunge_all()
        return rows


def person(url: str, email: str) -> Person | None:
    with transaction(url) as session:
        found = session.scalars(select(Person).where(Person.email == email)).first()
        if found is not None:
            session.expunge(found)
        return found


def post_form(
    client: TestClient, page_path: str, action: str, data: dict[str, str]
) -> httpx.Response:
    page = client.get(page_path)
    assert page.status_code == 200, page.text
    return client.post(
        action, data={**data, "csrf_token": csrf_of(page.text)}, follow_redirects=False
    )


def test_an_admin_adds_a_person_who_can_then_sign_in(
    configured: Settings, signed_in: Callable[[str], TestClient]
) -> None:
    url = configured.database_url
    admin = signed_in(ADMIN)
    bad = post_form(
        admin,
        "/admin/people",
        "/admin/people",
        {"name": "", "email": "not an address\nBcc: x@y.example", "role": "wizard"},
    )
    assert bad.status_code == 400
    text = bad.text
    assert "Enter the person&#39;s full name" in text and "Choose one of the roles" in text
    assert "Enter their email address" in text and "Error:" in text
    assert person(url, "not an address\nbcc: x@y.example") is None

    added = post_form(
        admin,
        "/admin/people",
        "/admin/people",
        {
            "name": "Nadia Karim",
            "email": "Nadia.Karim@oakfield.example",
            "role": "Deputy safeguarding lead",
            "job_title": "Pastoral lead",
        },
    )
    assert added.status_code == 303
    nadia = person(url, "nadia.karim@oakfield.example")
    assert nadia is not None and nadia.role == Role.DEPUTY_DSL
    assert "Nadia Karim" in admin.get("/admin/people").text
    [event] = events(url, AuditKind.PERSON_ADDED)
    assert event.data["role"] == "deputy_dsl" and event.actor.startswith("Ian Marsh")

    again = post_form(
        admin,
        "/admin/people",
        "/admin/people",
        {"name": "Someone Else", "email": "nadia.karim@oakfield.example", "role": "staff"},
    )
    assert again.status_code == 400 and "already belongs to someone" in again.text

    admin.cookies.clear()
    nadia_client = signed_in("nadia.karim@oakfield.example")
    assert "Nadia Karim" in nadia_client.get("/").text


def test_a_role_change_is_audited_with_before_and_after(
    configured: Settings, signed_in: Callable[[str], TestClient]
) -> None:
    url = configured.database_url
    sara = person(url, "sara.novak@oakfield.example")
    assert sara is not None
    admin = signed_in(ADMIN)
    saved = post_form(
        admin,
        f"/admin/people/{sara.id}",
        f"/admin/people/{sara.id}",
        {
            "name": "Sara Novak",
            "email": "sara.novak@oakfield.example",
            "role": "dsl",
            "job_title": "Designated safeguarding lead (maternity cover)",
        },
    )
    assert saved.status_code == 303
    [event] = events(url, AuditKind.PERSON_CHANGED)
    assert event.data["changes"]["role"] == ["staff", "dsl"]
    assert event.data["changes"]["job_title"][0] == "Teaching assistant"


def test_disabling_ends_sessions_and_passes_on_what_waits_on_the_person(
    configured: Settings, signed_in: Callable[[str], TestClient], client: TestClient
) -> None:
    url = configured.database_url
    case_id = make_case(url)
    make_approval(url, case_id)  # waiting on the headteacher
    head_page = signed_in("head@oakfield.example").get("/")
    assert head_page.status_code == 200 and "Helen Okafor" in head_page.text
    head_cookies = dict(client.cookies)
    client.cookies.clear()

    head = person(url, "head@oakfield.example")
    assert head is not None
    admin = signed_in(ADMIN)
    empty = post_form(admin, f"/admin/people/{head.id}", f"/admin/people/{head.id}/disable", {})
    assert empty.status_code == 400 and "Say why" in empty.text
    done = post_form(
        admin,
        f"/admin/people/{head.id}",
        f"/admin/people/{head.id}/disable",
        {"reason": "Left the school"},
    )
    assert done.status_code == 303
    notice = admin.get(done.headers["location"]).text
    assert "1 request waiting for them was passed on at once, to Kate Doyle" in notice
    assert "A test incident" not in notice, "no case content, only counts and names"

    [disabled] = events(url, AuditKind.PERSON_DISABLED)
    assert disabled.data["sessions_ended"] == 1 and disabled.data["reason"] == "Left the school"
    [moved] = events(url, AuditKind.REQUEST_PASSED_ON)
    assert moved.case_id == case_id and moved.actor.startswith("Ian Marsh")
    assert moved.data["from"] == "Helen Okafor" and moved.data["to"] == "Kate Doyle"
    assert moved.data["reason"] == "account disabled"

    client.cookies.clear()
    client.cookies.update(head_cookies)
    assert client.get("/", follow_redirects=False).status_code in (303, 307), "signed out"
    with transaction(url) as session:
        assert staff_by_email(session, "head@oakfield.example") is None, "cannot sign in"

    client.cookies.clear()
    page = signed_in("dsl@oakfield.example").get(f"/cases/{case_id}").text
    assert "Waiting for Kate Doyle" in page and "account has been disabled" not in page
    assert "because the person who had it could no longer hold it (account disabled)" in page


def test_links_sent_to_someone_since_disabled_record_nothing(
    configured: Settings,
    signed_in: Callable[[str], TestClient],
    client: TestClient,
) -> None:
    """A head who has left keeps their emails: none of the links in them may answer."""
    url = configured.database_url
    letter_case = make_case(url)
    letter = f"/approvals/{make_approval(url, letter_case)}"
    inquiry_case = make_case(url, IncidentType.STAFF_CONDUCT)
    inquiry = f"/tasks/{make_approval(url, inquiry_case, step_key='investigate')}"
    assert client.get(letter).status_code == 200 and client.get(inquiry).status_code == 200

    # The head leaves and the deputy takes her place.
    head, kate = person(url, "head@oakfield.example"), person(url, "deputy@oakfield.example")
    assert head is not None and kate is not None
    admin = signed_in(ADMIN)
    done = post_form(
        admin,
        f"/admin/people/{head.id}",
        f"/admin/people/{head.id}/disable",
        {"reason": "Left the school"},
    )
    promoted = post_form(
        admin,
        f"/admin/people/{kate.id}",
        f"/admin/people/{kate.id}",
        {"name": kate.name, "email": "deputy@oakfield.example", "role": "headteacher"},
    )
    assert done.status_code == promoted.status_code == 303
    client.cookies.clear()
    token = csrf_of(client.get("/signin").text)

    for link in (letter, inquiry):
        page = client.get(link)
        assert page.status_code == 410 and "passed to someone else" in page.text
        assert "Record my decision" not in page.text and "A test incident" not in page.text
    attempts = [
        (letter, {"decision": "rejected", "reason": "Not needed, I spoke to the parents."}),
        (letter, {"action": "send_code", "decision": "approved"}),
        (letter, {"decision": "approved", "code": "123456"}),
        (
            inquiry,
            {
                "findings": "Spoke to everyone involved; nothing happened.",
                "breach_found": "no",
                "child_may_be_at_risk": "no",
            },
        ),
    ]
    for link, answer in attempts:
        refused = client.post(link, data={**answer, "csrf_token": token})
        assert refused.status_code == 410 and "passed to someone else" in refused.text

    with transaction(url) as session:
        approvals = list(session.scalars(select(Approval)))
        assert [a.decision for a in approvals] == [None, None]
        kinds = set(session.scalars(select(AuditEvent.kind)))
    assert not {"approval.decided", "task.completed", "step.completed"} & kinds
    assert count(url, DecisionCode) == 0, "no confirmation code was made or emailed"
    assert count(url, OutboxMessage, OutboxMessage.kind == "decision_code") == 0


def test_admins_cannot_disable_themselves(
    configured: Settings, signed_in: Callable[[str], TestClient]
) -> None:
    me = person(configured.database_url, ADMIN)
    assert me is not None
    admin = signed_in(ADMIN)
    refused = post_form(
        admin, f"/admin/people/{me.id}", f"/admin/people/{me.id}/disable", {"reason": "Testing"}
    )
    assert refused.status_code == 409


def test_a_people_file_with_one_bad_line_imports_nobody(
    configured: Settings, signed_in: Callable[[str], TestClient]
) -> None:
    url = configured.database_url
    admin = signed_in(ADMIN)
    page = admin.get("/admin/people")
    bad = (
        "name,email,role,job_title\n"
        "Lena Ortiz,lena.ortiz@oakfield.example,Member of staff,Teacher\n"
        "Bo Lind,bo.lind@oakfield,Headmaster,\n"
        "Lena Twin,lena.ortiz@oakfield.example,staff,\n"
    )
    answer = admin.post(
        "/admin/people/import",
        data={"csrf_token": csrf_of(page.text)},
        files={"file": ("staff.csv", bad.encode(), "text/csv")},
    )
    assert answer.status_code == 400
    assert "Line 3, email" in answer.text and "Line 3, role" in answer.text
    assert "Line 4: lena.ortiz@oakfield.example is also on line 2" in answer.text
    assert person(url, "lena.ortiz@oakfield.example") is None

    good = (
        "name,email,role,job_title\n"
        "Lena Ortiz,lena.ortiz@oakfield.example,Member of staff,Teacher\n"
        "Tom Byrne,tom.byrne@oakfield.example,staff,Head of PE\n"
    )
    done = admin.post(
        "/admin/people/import",
        data={"csrf_token": csrf_of(page.text)},
        files={"file": ("staff.csv", good.encode(), "text/csv")},
    )
    assert done.status_code == 200 and "1 added, 1 updated" in done.text
    tom = person(url, "tom.byrne@oakfield.example")
    assert tom is not None and tom.job_title == "Head of PE"


def import_people_file(client: TestClient, data: str) -> tuple[httpx.Response, str]:
    """Upload a people file as the page does; the answer and the import's progress id."""
    page = client.get("/admin/people").text
    found = re.search(r'name="import_id" value="([^"]+)"', page)
    assert found, "the page gives each import a reference for its progress bar"
    answer = client.post(
        "/admin/people/import",
        data={"csrf_token": csrf_of(page), "import_id": found.group(1)},
        files={"file": ("staff.csv", data.encode(), "text/csv")},
    )
    return answer, found.group(1)


def progress_of(client: TestClient, import_id: str) -> tuple[int, dict[str, object]]:
    answer = client.get(f"/admin/people/imports/{import_id}")
    return answer.status_code, answer.json()


def test_a_people_import_reports_its_progress_like_the_parents_import(
    configured: Settings, signed_in: Callable[[str], TestClient]
) -> None:
    admin = signed_in(ADMIN)
    page = admin.get("/admin/people").text
    assert 'data-progress="/admin/people/imports/"' in page and "import-progress.js" in page
    rows = "".join(f"Person {n},person{n}@oakfield.example,staff,\n" for n in range(300))
    answer, import_id = import_people_file(admin, "name,email,role,job_title\n" + rows)
    assert answer.status_code == 200 and "300 added, 0 updated" in answer.text
    assert progress_of(admin, import_id) == (200, {"stage": "done", "done": 300, "total": 300})

    admin.cookies.clear()
    other = signed_in("head@oakfield.example")
    assert other.get(f"/admin/people/imports/{import_id}").status_code in (403, 404)


def test_an_address_of_another_schools_person_stops_the_whole_file_with_its_line(
    configured: Settings, signed_in: Callable[[str], TestClient]
) -> None:
    from forms.people import PersonForm, SchoolForm
    from services.people import add_staff, create_school

    url = configured.database_url
    with transaction(url) as session:
        elm = create_school(session, None, SchoolForm(name="Elmbridge Academy"), None)
        form = PersonForm(name="Omar Reid", email="omar.reid@elmbridge.example", role="staff")
        add_staff(session, elm.id, form, None)
    admin = signed_in(ADMIN)
    answer, import_id = import_people_file(
        admin,
        "name,email,role,job_title\n"
        "Lena Ortiz,lena.ortiz@oakfield.example,staff,Teacher\n"
        "Omar Reid,Omar.Reid@elmbridge.example,headteacher,\n"
        "Tom Byrne,tom.byrne@oakfield.example,staff,Head of PE\n",
    )
    assert answer.status_code == 400 and "Nobody was imported" in answer.text
    assert "Line 3: omar.reid@elmbridge.example belongs to another school" in answer.text
    assert progress_of(admin, import_id)[1]["stage"] == "failed"
    assert person(url, "lena.ortiz@oakfield.example") is None, "the good lines are not saved"
    omar, tom = (
        person(url, "omar.reid@elmbridge.example"),
        person(url, "tom.byrne@oakfield.example"),
    )
    assert omar is not None and omar.role == Role.STAFF
    assert tom is not None and tom.job_title != "Head of PE"
    assert events(url, AuditKind.PEOPLE_IMPORTED) == []


def test_a_second_school_is_set_up_and_each_school_sees_only_its_own(
    configured: Settings, signed_in: Callable[[str], TestClient]
) -> None:
    url = configured.database_url
    admin = signed_in(ADMIN)
    made = post_form(
        admin,
        "/admin/schools",
        "/admin/schools",
        {"name": "Elmbridge Academy", "address": "2 Elm Road", "phase": "secondary"},
    )
    assert made.status_code == 303
    with transaction(url) as session:
        elm = session.scalars(select(School).where(School.name == "Elmbridge Academy")).one()
        oak = session.scalars(select(School).where(School.name != "Elmbridge Academy")).one()
        assert elm.organisation_id == oak.organisation_id, "joins the admin's trust"
        elm_id = elm.id
    home = admin.get("/admin/schools").text
    assert "Elmbridge Academy" in home and 'name="school_id"' in home, "a school switcher"

    switched = post_form(admin, "/admin/people", "/school/switch", {"school_id": str(elm_id)})
    assert switched.status_code == 303
    people_page = admin.get("/admin/people").text
    assert "People at Elmbridge Academy" in people_page
    assert "Helen Okafor" not in people_page, "Oakfield's staff are not Elmbridge's"
    added = post_form(
        admin,
        "/admin/people",
        "/admin/people",
        {"name": "Omar Reid", "email": "head@elmbridge.example", "role": "Headteacher"},
    )
    assert added.status_code == 303
    school_page = admin.get(f"/admin/schools/{elm_id}").text
    assert "Omar Reid" in school_page

    helen = person(url, "head@oakfield.example")
    assert helen is not None
    assert admin.get(f"/admin/people/{helen.id}").status_code == 404, "another school's person"
    refused = post_form(admin, "/admin/people", "/school/switch", {"school_id": "999999"})
    assert refused.status_code == 404

    admin.cookies.clear()
    omar = signed_in("head@elmbridge.example")
    assert "Elmbridge Academy" in omar.get("/").text
    assert "Oakfield" not in omar.get("/").text


def test_hr_serving_two_schools_is_asked_by_both(
    configured: Settings, signed_in: Callable[[str], TestClient]
) -> None:
    from db.people import hr_adviser, serve
    from forms.people import SchoolForm
    from services.people import create_school

    url = configured.database_url
    with transaction(url) as session:
        hr = staff_by_email(session, "hr@oakfield.example")
        assert hr is not None
        elm = create_school(session, None, SchoolForm(name="Elmbridge Academy"), None)
        assert serve(session, hr.id, elm.id)
        assert hr_adviser(session, elm.id).id == hr.id
        elm_id = elm.id
    page = signed_in("hr@oakfield.example").get("/").text
    assert "Elmbridge Academy" in page and "Oakfield Primary School" in page
    assert f'value="{elm_id}"' in page


def test_a_lost_authenticator_is_reset_and_set_up_again_at_sign_in(
    configured: Settings,
    signed_in: Callable[[str], TestClient],
    client: TestClient,
    smtp: tuple[MailStore, int],
    deliver: Callable[[], int],
) -> None:
    url = configured.database_url
    head = person(url, "head@oakfield.example")
    assert head is not None
    signed_in("head@oakfield.example")  # enrols the authenticator app
    head_cookies = dict(client.cookies)
    client.cookies.clear()

    admin = signed_in(ADMIN)
    reset = post_form(
        admin, f"/admin/people/{head.id}", f"/admin/people/{head.id}/authenticator", {}
    )
    assert reset.status_code == 303
    assert "Authenticator app forgotten" in admin.get(reset.headers["location"]).text
    [event] = events(url, AuditKind.AUTHENTICATOR_RESET)
    assert event.data["sessions_ended"] == 1

    client.cookies.clear()
    client.cookies.update(head_cookies)
    assert client.get("/", follow_redirects=False).status_code in (303, 307), "signed out"
    client.cookies.clear()
    done = first_step(client, "head@oakfield.example", smtp[0], deliver)
    assert done.headers["location"] == "/second-factor"
    page = client.get("/second-factor").text
    assert "Set up your authenticator app" in page, "a new app, not the lost one"


def test_a_secondary_school_offers_its_own_year_groups(
    configured: Settings, signed_in: Callable[[str], TestClient]
) -> None:
    primary = signed_in("amy.fletcher@oakfield.example").get("/report/pupil_contact").text
    assert ">Year 6<" in primary and ">Year 7<" not in primary and ">Reception<" in primary
    with transaction(configured.database_url) as session:
        oak = session.scalars(select(School)).one()
        oak.phase = Phase.SECONDARY
    secondary = signed_in("amy.fletcher@oakfield.example").get("/report/pupil_contact").text
    assert ">Year 7<" in secondary and ">Year 13<" in secondary and ">Year 6<" not in secondary


def test_someone_who_only_serves_the_school_is_changed_by_their_own_admin(
    configured: Settings, signed_in: Callable[[str], TestClient]
) -> None:
    from db.people import serve
    from forms.people import PersonForm, SchoolForm
    from services.people import add_staff, create_school

    url = configured.database_url
    with transaction(url) as session:
        hr = staff_by_email(session, "hr@oakfield.example")
        assert hr is not None
        elm = create_school(session, None, SchoolForm(name="Elmbridge Academy"), None)
        serve(session, hr.id, elm.id)
        form = PersonForm(name="Jo Bell", email="admin@elmbridge.example", role="admin")
        add_staff(session, elm.id, form, None)
        hr_id = hr.id
    elm_admin = signed_in("admin@elmbridge.example")
    listed = elm_admin.get("/admin/people").text
    assert "Priya Shah" in listed and "(serves this school)" in listed
    shown = elm_admin.get(f"/admin/people/{hr_id}").text
    assert "An administrator of their own school changes their account" in shown
    assert "Disable the account" not in shown
    refused = post_form(
        elm_admin,
        f"/admin/people/{hr_id}",
        f"/admin/people/{hr_id}",
        {"name": "Priya Shah", "email": "hr@oakfield.example", "role": "headteacher"},
    )
    assert refused.status_code == 403 and "Ask an administrator of their own school" in (
        refused.text
    )
    hr_now = person(url, "hr@oakfield.example")
    assert hr_now is not None and hr_now.role == Role.HR
