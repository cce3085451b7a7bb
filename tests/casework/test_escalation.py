"""A request nobody answers, reminders and all, goes up the school's escalation chain; it is
never answered on anyone's behalf, and at the end of the chain it stays where it is."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from casework.reconciler import escalate_unanswered, send_reminders
from core.enums import IncidentType, StepKey
from core.settings import Settings, get_settings
from db.models import Approval, AuditEvent, Case, Person, Role, School
from db.session import transaction
from mail.catcher import MailStore
from mail.sender import deliver_due
from services.requests import ask
from tests.support import link_in, mail_to, make_approval, make_case, signin

DSL = "dsl@oakfield.example"
HEAD = "head@oakfield.example"
CHAIR = "chair@oakfield.example"
DEPUTY = "deputy@oakfield.example"
TASK = StepKey.RECORD_PERSISTENCE


def asked(url: str, step: StepKey = TASK, kind: IncidentType = IncidentType.PUPIL_CONTACT) -> int:
    case_id = make_case(url, kind)
    with transaction(url) as session:
        case = session.get(Case, case_id)
        assert case is not None
        ask(session, case, step)
    return case_id


def hours_pass(url: str, case_id: int, hours: float) -> None:
    """Move the request's last sending time back, as the hours passing would."""
    with transaction(url) as session:
        for approval in session.scalars(select(Approval).where(Approval.case_id == case_id)):
            approval.requested_at -= timedelta(hours=hours)


def reminded_to_the_end(url: str, case_id: int, settings: Settings) -> None:
    """Every reminder sent and each left unanswered a day."""
    for _ in range(settings.reminders_max):
        hours_pass(url, case_id, settings.reminder_after_hours + 1)
        assert send_reminders() == 1
    assert escalate_unanswered() == 0, "the last reminder has not waited its day yet"
    hours_pass(url, case_id, settings.reminder_after_hours + 1)


def with_whom(url: str, case_id: int) -> tuple[str, bool, int]:
    """The email of whoever holds the request, whether it is decided, its reminders."""
    with transaction(url) as session:
        approval = session.scalars(select(Approval).where(Approval.case_id == case_id)).one()
        person = session.get(Person, approval.approver_id)
        assert person is not None
        return str(person.email), approval.decision is not None, approval.reminders_sent


def data_of(url: str, case_id: int, kind: str) -> list[dict[str, object]]:
    with transaction(url) as session:
        return [
            dict(e.data)
            for e in session.scalars(
                select(AuditEvent)
                .where(AuditEvent.case_id == case_id, AuditEvent.kind == kind)
                .order_by(AuditEvent.seq)
            )
        ]


def send_mail() -> None:
    asyncio.run(deliver_due(get_settings()))


def test_an_unanswered_task_climbs_the_default_chain_then_stays_with_the_chair(
    configured: Settings, smtp: tuple[MailStore, int], client: TestClient
) -> None:
    url = configured.database_url
    case_id = asked(url)
    reminded_to_the_end(url, case_id, configured)
    since = len(smtp[0].ids())
    assert escalate_unanswered() == 1
    assert with_whom(url, case_id) == (HEAD, False, configured.reminders_max)
    assert escalate_unanswered() == 0, "the head has their own day to answer"
    send_mail()
    mail = mail_to(smtp[0], HEAD, "please record", since=since)
    assert "through the school's escalation chain. No answer from Daniel Price since" in mail.text
    assert link_in(mail, "/tasks/")

    hours_pass(url, case_id, configured.reminder_after_hours + 1)
    assert escalate_unanswered() == 1
    assert with_whom(url, case_id)[:2] == (CHAIR, False)
    hours_pass(url, case_id, configured.reminder_after_hours + 1)
    assert escalate_unanswered() == 0, "nobody after the chair: it stays"
    assert escalate_unanswered() == 0 and send_reminders() == 0, "and nothing more is sent"
    assert with_whom(url, case_id)[:2] == (CHAIR, False), "never answered on anyone's behalf"

    moves = data_of(url, case_id, "request.escalated")
    assert [(m["from"], m["to"]) for m in moves] == [
        ("Daniel Price", "Helen Okafor"),
        ("Helen Okafor", "Margaret Ellis"),
    ]
    assert str(moves[1]["reason"]).startswith("No answer from Helen Okafor since")
    (ended,) = data_of(url, case_id, "request.escalation_ended")
    assert ended["with"] == "Margaret Ellis"
    signin(client, DSL, smtp[0], send_mail)
    page = client.get(f"/cases/{case_id}").text
    assert "Nobody further in the school's escalation chain can take this" in page
    assert "Casework sent it up the school's escalation chain" in page


def test_the_case_subject_and_people_the_school_lacks_are_skipped(configured: Settings) -> None:
    url = configured.database_url
    case_id = asked(url)
    with transaction(url) as session:
        head = session.scalars(select(Person).where(Person.role == Role.HEADTEACHER)).one()
        session.get(Case, case_id).subject_id = head.id  # type: ignore[union-attr]
        chair = session.scalars(select(Person).where(Person.role == Role.CHAIR)).one()
        chair.active = False
    reminded_to_the_end(url, case_id, configured)
    assert escalate_unanswered() == 0, "the head is the subject and the chair has left"
    assert with_whom(url, case_id)[0] == DSL
    assert data_of(url, case_id, "request.escalation_ended")[0]["with"] == "Daniel Price"


def test_the_school_chain_is_followed_and_platform_deadlines_are_left_alone(
    configured: Settings,
) -> None:
    url = configured.database_url
    with transaction(url) as session:
        school = session.scalars(select(School)).one()
        school.escalation_chains = {"dsl": ["deputy_head"], "headteacher": [], "hr": []}
    case_id = asked(url)
    platform = make_case(url, IncidentType.ONLINE_ABUSE)
    make_approval(url, platform, step_key="platform_response", ttl=timedelta(hours=48))
    reminded_to_the_end(url, case_id, configured)
    hours_pass(url, platform, 24 * 10)
    with transaction(url) as session:
        late = session.scalars(select(Approval).where(Approval.case_id == platform)).one()
        late.reminders_sent = configured.reminders_max  # as if it had been reminded
    assert escalate_unanswered() == 1
    assert with_whom(url, case_id)[0] == DEPUTY
    assert with_whom(url, platform)[0] == HEAD, "a platform's deadline is not escalated"
    hours_pass(url, case_id, configured.reminder_after_hours + 1)
    assert escalate_unanswered() == 0
    assert with_whom(url, case_id)[0] == DEPUTY
