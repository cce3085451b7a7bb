"""The chair's termly email: sent once per term per school, whatever the worker does, and
the names check the governors' report goes through (services/governors_report.py)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from casework.governors import send_governors_reports
from core.settings import Settings
from db.models import AuditEvent, OutboxMessage, School
from db.session import transaction
from mail.catcher import MailStore
from services.governors_report import NamedPerson, named_in, variable_text
from tests.dashboard_world import at, build
from tests.support import mail_to

CHAIR = "chair@oakfield.example"


def school_since(url: str, when: str) -> None:
    with transaction(url) as session:
        for school in session.scalars(select(School)):
            school.created_at = at(when)


def reports_queued(url: str) -> list[OutboxMessage]:
    with transaction(url) as session:
        rows = list(
            session.scalars(select(OutboxMessage).where(OutboxMessage.kind == "governors_report"))
        )
        for row in rows:
            session.expunge(row)
        return rows


def test_the_chair_gets_each_terms_report_once(
    configured: Settings, smtp: tuple[MailStore, int], deliver: Callable[[], int]
) -> None:
    url = configured.database_url
    build(url)
    school_since(url, "2025-01-01T00:00:00")
    just_after_autumn = at("2026-01-02T07:00:00")
    assert send_governors_reports(just_after_autumn) == 1
    assert send_governors_reports(just_after_autumn) == 0, "a second pass sends nothing"
    assert send_governors_reports(at("2026-03-31T12:00:00")) == 0, "nor does a later day"
    queued = reports_queued(url)
    assert [(m.to_addr, m.dedup_key) for m in queued] == [(CHAIR, "governors_report:1:2025-autumn")]
    deliver()
    mail = mail_to(smtp[0], CHAIR, "governors' report", timeout=10)
    assert mail.subject == "The governors' report for the Autumn term 2025 is ready"
    assert "7 in all" in mail.text
    assert "http://testserver/dashboard/report.pdf?term=2025-autumn" in mail.links
    assert "Jordan" not in mail.text and "Margaret" not in mail.text

    assert send_governors_reports(at("2026-04-01T09:00:00")) == 1, "the spring term's"
    assert [m.dedup_key.rsplit(":", 1)[1] for m in reports_queued(url)] == [
        "2025-autumn",
        "2026-spring",
    ]
    with transaction(url) as session:
        emailed = session.scalars(
            select(AuditEvent.data).where(AuditEvent.kind == "governors_report.emailed")
        ).all()
    assert [e["term"] for e in emailed] == ["2025-autumn", "2026-spring"]


def test_no_report_for_a_term_that_ended_before_the_school_joined(configured: Settings) -> None:
    url = configured.database_url
    school_since(url, "2026-01-10T00:00:00")
    assert send_governors_reports(at("2026-01-12T09:00:00")) == 0
    assert reports_queued(url) == []


def test_a_month_is_not_taken_for_a_parent_called_may() -> None:
    """The check reads what the figures wrote, with the report's dates left aside."""
    parent = NamedPerson("a parent or carer", "May Jones")
    blank = "<h2>Cases opened each month</h2><td></td>"
    page = "<h2>Cases opened each month</h2><td>May 2026</td><td>3</td>"
    left = variable_text(page, blank, ["May 2026"])
    assert named_in([left], [parent]) == []
    assert named_in([variable_text(page, blank, [])], [parent]) == [parent], "unless left in"


def test_a_name_anywhere_in_the_figures_is_found() -> None:
    pupil = NamedPerson("the pupil", "Jordan Miles")
    account = NamedPerson("an account a report names", "@jay_k", literal=True)
    people = [pupil, account, NamedPerson("a member of staff", "Tom Byrne")]
    blank = "<th>Platform</th><td></td>"
    assert named_in([variable_text("<th>Platform</th><td>JORDAN</td>", blank, [])], people) == [
        pupil
    ]
    assert named_in([variable_text("<td>jay_k on TikTok</td>", blank, [])], people) == [account]
    assert named_in([variable_text("<td>Instagram</td>", blank, [])], people) == []
