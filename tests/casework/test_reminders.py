"""A request left waiting is sent again with a fresh link, a few times, then left alone."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from casework.reconciler import send_reminders
from core.enums import StepKey
from core.settings import Settings, get_settings
from db.cases import close_case
from db.models import Approval, Case, IncidentType
from db.session import transaction
from mail.catcher import MailStore
from mail.sender import deliver_due
from services.requests import ask
from tests.support import audit_kinds, link_in, mail_to, make_approval, make_case, signin

HEAD = "head@oakfield.example"


def request_letter_approval(url: str, case_id: int) -> None:
    """The flow's request to the headteacher, with its email and audit event."""
    with transaction(url) as session:
        case = session.get(Case, case_id)
        assert case is not None
        ask(session, case, StepKey.APPROVE_PARENT_LETTER)


def hours_pass(url: str, case_id: int, hours: float) -> None:
    """Move the request's sending time back, as the hours passing would."""
    with transaction(url) as session:
        for approval in session.scalars(select(Approval).where(Approval.case_id == case_id)):
            approval.requested_at -= timedelta(hours=hours)


def send_mail() -> None:
    asyncio.run(deliver_due(get_settings()))


def test_a_waiting_approval_is_sent_again_with_a_new_link(
    configured: Settings, smtp: tuple[MailStore, int], client: TestClient
) -> None:
    url = configured.database_url
    case_id = make_case(url)
    request_letter_approval(url, case_id)
    send_mail()
    first = mail_to(smtp[0], HEAD, "your decision")
    old_link = link_in(first, "/approvals/")

    hours_pass(url, case_id, 23)
    assert send_reminders() == 0, "not a day yet"
    hours_pass(url, case_id, 2)
    assert send_reminders() == 1
    assert send_reminders() == 0, "one reminder per day, not one per pass"
    since = len(smtp[0].ids())
    send_mail()
    reminder = mail_to(smtp[0], HEAD, "Reminder: Case", since=since)
    assert "has been waiting for you since" in reminder.text
    new_link = link_in(reminder, "/approvals/")
    assert new_link != old_link

    assert client.get(old_link).status_code == 404, "the old link stops working"
    page = client.get(new_link)
    assert page.status_code == 200 and "Approve" in page.text
    assert "approval.reminded" in audit_kinds(url, case_id)
    signin(client, HEAD, smtp[0], send_mail)
    case_page = client.get(f"/cases/{case_id}").text
    assert "reminded 1 time" in case_page


def test_reminders_stop_after_the_last_one(configured: Settings) -> None:
    url = configured.database_url
    case_id = make_case(url)
    request_letter_approval(url, case_id)
    for _ in range(configured.reminders_max):
        hours_pass(url, case_id, 25)
        assert send_reminders() == 1
    hours_pass(url, case_id, 25)
    assert send_reminders() == 0
    assert audit_kinds(url, case_id).count("approval.reminded") == configured.reminders_max


def test_platform_deadlines_and_closed_cases_get_no_reminder(configured: Settings) -> None:
    url = configured.database_url
    platform_case = make_case(url, IncidentType.ONLINE_ABUSE)
    make_approval(url, platform_case, step_key="platform_response", ttl=timedelta(hours=48))
    closed_case = make_case(url)
    request_letter_approval(url, closed_case)
    with transaction(url) as session:
        case = session.get(Case, closed_case)
        assert case is not None
        close_case(session, case, "Resolved in school.")
    hours_pass(url, platform_case, 30)
    hours_pass(url, closed_case, 30)
    assert send_reminders() == 0
