"""Passing work on from the case page: a waiting request to someone else, or the case to a new
lead. Real app, real database (SQLite and PostgreSQL), real SMTP server."""

from __future__ import annotations

import html
import re
from collections.abc import Callable

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import select

from core.enums import StepKey
from core.settings import Settings
from db.models import Approval, AuditEvent, Case, Person
from db.people import staff_by_email
from db.session import transaction
from forms.people import PersonForm, SchoolForm
from mail.catcher import MailStore
from services.people import add_staff, create_school
from services.requests import ask
from tests.support import audit_kinds, csrf_of, link_in, mail_to, make_case

HEAD = "head@oakfield.example"
DSL = "dsl@oakfield.example"
DEPUTY = "deputy@oakfield.example"
STAFF = "tom.byrne@oakfield.example"
LETTER = StepKey.APPROVE_PARENT_LETTER
PERSISTENCE = StepKey.RECORD_PERSISTENCE


def waiting_case(url: str, *steps: StepKey) -> int:
    """A pupil-contact case whose procedure has asked for these steps, emails and all."""
    case_id = make_case(url)
    with transaction(url) as session:
        case = session.get(Case, case_id)
        assert case is not None
        for step in steps:
            ask(session, case, step)
    return case_id


def person_id(url: str, email: str) -> int:
    with transaction(url) as session:
        found = staff_by_email(session, email)
        assert found is not None
        return found.id


def holder(url: str, case_id: int, step: str) -> tuple[str, str]:
    """Who a request is with now, and its link's fingerprint."""
    with transaction(url) as session:
        approval = session.scalars(
            select(Approval).where(Approval.case_id == case_id, Approval.step_key == step)
        ).one()
        person = session.get(Person, approval.approver_id)
        assert person is not None
        return str(person.email), approval.token_hash


def events(url: str, case_id: int, kind: str) -> list[AuditEvent]:
    with transaction(url) as session:
        found = list(
            session.scalars(
                select(AuditEvent).where(AuditEvent.case_id == case_id, AuditEvent.kind == kind)
            )
        )
        session.expunge_all()
        return found


def post_form(client: TestClient, case_id: int, action: str, **fields: str) -> httpx.Response:
    page = client.get(f"/cases/{case_id}")
    assert page.status_code == 200, page.text
    return client.post(
        f"/cases/{case_id}/{action}",
        data={**fields, "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )


def pass_on(
    client: TestClient, case_id: int, step: str, to: int | str, reason: str
) -> httpx.Response:
    return post_form(client, case_id, f"requests/{step}/pass-on", to=str(to), reason=reason)


def test_the_head_passes_an_approval_to_the_deputy_who_then_decides(
    configured: Settings,
    smtp: tuple[MailStore, int],
    deliver: Callable[[], int],
    signed_in: Callable[[str], TestClient],
) -> None:
    url = configured.database_url
    case_id = waiting_case(url, LETTER)
    deliver()
    old_link = link_in(mail_to(smtp[0], HEAD, "your decision"), "/approvals/")
    old_path = old_link[old_link.index("/approvals/") :]

    head = signed_in(HEAD)
    page = head.get(f"/cases/{case_id}").text
    assert "Who has the waiting requests" in page and "The procedure asked them." in page
    deputy = person_id(url, DEPUTY)
    assert f'<option value="{deputy}">Kate Doyle (deputy headteacher)</option>' in page
    since = len(smtp[0].ids())
    sent = pass_on(head, case_id, LETTER, deputy, "I am out on a course until Friday.")
    assert sent.status_code == 303
    assert "has been passed on" in head.get(sent.headers["location"]).text

    deliver()
    mail = mail_to(smtp[0], DEPUTY, "your decision", since=since)
    assert "Helen Okafor has passed this to you." in mail.text
    assert "course" not in mail.raw, "the reason stays in the case record, not in email"
    head.cookies.clear()
    refused = head.get(old_path)
    assert refused.status_code == 410
    assert "passed to someone else, so this link no longer works" in refused.text

    new_link = link_in(mail, "/approvals/")
    new_path = new_link[new_link.index("/approvals/") :]
    form = head.get(new_path)
    assert form.status_code == 200 and "Record my decision" in form.text
    done = head.post(
        new_path,
        data={
            "decision": "rejected",
            "reason": "A letter went out last month.",
            "csrf_token": csrf_of(form.text),
        },
    )
    assert done.status_code == 200 and "Your answer is recorded" in done.text

    (delegated,) = events(url, case_id, "request.delegated")
    assert delegated.actor.startswith("Helen Okafor")
    assert delegated.data["from"] == "Helen Okafor" and delegated.data["to"] == "Kate Doyle"
    assert delegated.data["reason"] == "I am out on a course until Friday."
    (decided,) = events(url, case_id, "approval.decided")
    assert decided.actor.startswith("Kate Doyle") and decided.data["decision"] == "rejected"


def test_the_case_page_says_who_passed_a_request_on_and_why(
    configured: Settings, signed_in: Callable[[str], TestClient]
) -> None:
    url = configured.database_url
    case_id = waiting_case(url, PERSISTENCE)
    dsl = signed_in(DSL)
    deputy = person_id(url, DEPUTY)
    assert pass_on(dsl, case_id, PERSISTENCE, deputy, "Kate taught the pupil all year.")
    page = dsl.get(f"/cases/{case_id}").text
    assert "With <strong>Kate Doyle</strong>." in page
    assert "Daniel Price passed it to them on" in page
    assert "Kate taught the pupil all year." in page
    assert holder(url, case_id, PERSISTENCE)[0] == DEPUTY
    assert "Waiting for Kate Doyle" in page, "the step's owner changed too"


def said(answer: httpx.Response) -> str:
    """What a page says, as a person reads it."""
    return re.sub(r"\s+", " ", html.unescape(answer.text))


def refusal(client: TestClient, case_id: int, to: int | str, reason: str = "Cover.") -> str:
    answer = pass_on(client, case_id, LETTER, to, reason)
    assert answer.status_code == 400, answer.text
    return said(answer)


def test_a_request_goes_only_to_someone_the_rules_allow_and_nothing_changes_otherwise(
    configured: Settings, signed_in: Callable[[str], TestClient]
) -> None:
    url = configured.database_url
    case_id = waiting_case(url, LETTER)
    dsl = person_id(url, DSL)
    with transaction(url) as session:
        elm = create_school(session, None, SchoolForm(name="Elmbridge Academy"), None)
        other = add_staff(
            session,
            elm.id,
            PersonForm(name="Omar Reid", email="head@elmbridge.example", role="deputy_head"),
            None,
        ).id
        session.get(Case, case_id).subject_id = dsl  # type: ignore[union-attr]
        chair = session.scalars(
            select(Person).where(Person.email == "chair@oakfield.example")
        ).one()
        chair.active = False
    before = holder(url, case_id, LETTER)
    head = signed_in(HEAD)

    assert "cannot pass a request to yourself" in refusal(head, case_id, person_id(url, HEAD))
    assert "Daniel Price is the person this case is about, so it cannot go to them" in refusal(
        head, case_id, person_id(url, DSL)
    )
    wrong = refusal(head, case_id, person_id(url, STAFF))
    assert "A headteacher's step can go only to the headteacher, a deputy headteacher" in wrong
    assert "Tom Byrne is a member of staff." in wrong
    assert "Omar Reid does not work at or serve this school." in refusal(head, case_id, other)
    assert "Margaret Ellis's account is disabled." in refusal(head, case_id, chair.id)
    assert "Choose who it should go to." in refusal(head, case_id, "someone")
    assert "Choose someone from the list." in refusal(head, case_id, "9999999999")
    kept = refusal(head, case_id, person_id(url, DEPUTY), reason="")
    assert "Say why" in kept and "selected>Kate Doyle" in kept, "what was chosen is kept"

    assert holder(url, case_id, LETTER) == before, "nothing changed"
    assert "request.delegated" not in audit_kinds(url, case_id)


def test_only_the_holder_or_the_head_or_dsl_may_pass_a_request_on(
    configured: Settings, signed_in: Callable[[str], TestClient]
) -> None:
    url = configured.database_url
    case_id = waiting_case(url, LETTER)
    before = holder(url, case_id, LETTER)
    deputy = signed_in(DEPUTY)
    page = deputy.get(f"/cases/{case_id}").text
    assert "Pass this to someone else" not in page and "Change the case lead" not in page
    refused = pass_on(deputy, case_id, LETTER, person_id(url, DSL), "I will take it.")
    assert refused.status_code == 403
    assert "Only the person who holds this request" in refused.text
    moved = post_form(deputy, case_id, "lead", to=str(person_id(url, DEPUTY)), reason="Mine.")
    assert moved.status_code == 403
    assert "cannot change this case's lead" in said(moved)
    assert holder(url, case_id, LETTER) == before
    finished = pass_on(deputy, case_id, StepKey.RECORD_DISCIPLINE, person_id(url, DSL), "x")
    assert finished.status_code == 409


def test_a_new_lead_takes_the_requests_the_old_lead_had_for_leading_the_case(
    configured: Settings,
    smtp: tuple[MailStore, int],
    deliver: Callable[[], int],
    signed_in: Callable[[str], TestClient],
) -> None:
    url = configured.database_url
    case_id = waiting_case(url, PERSISTENCE, LETTER)
    head_before = holder(url, case_id, LETTER)
    dsl_link = holder(url, case_id, PERSISTENCE)[1]
    head = signed_in(HEAD)
    refused = post_form(head, case_id, "lead", to=str(person_id(url, STAFF)), reason="Cover.")
    assert refused.status_code == 400
    assert "A case can be led only by" in refused.text
    deputy = person_id(url, DEPUTY)
    since = len(smtp[0].ids())
    moved = post_form(head, case_id, "lead", to=str(deputy), reason="Daniel is on leave.")
    assert moved.status_code == 303

    with transaction(url) as session:
        assert session.get(Case, case_id).lead_id == deputy  # type: ignore[union-attr]
    assert holder(url, case_id, PERSISTENCE)[0] == DEPUTY
    assert holder(url, case_id, PERSISTENCE)[1] != dsl_link, "the old link died"
    assert holder(url, case_id, LETTER) == head_before, "the head's own step stays put"
    deliver()
    assert "please record" in mail_to(smtp[0], DEPUTY, "Record whether", since=since).subject
    (changed,) = events(url, case_id, "case.lead_changed")
    assert changed.data == {
        "from": "Daniel Price",
        "to": "Kate Doyle",
        "reason": "Daniel is on leave.",
    }
    assert changed.actor.startswith("Helen Okafor")
    assert [e.data["step"] for e in events(url, case_id, "request.reassigned")] == [PERSISTENCE]
    page = head.get(f"/cases/{case_id}").text
    assert "It moved to them with the case lead" in page
    assert re.search(r">Case lead</dt>\s*<dd[^>]*>Kate Doyle</dd>", page)
