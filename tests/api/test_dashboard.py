"""The dashboard and the governors' report: the figures match the cases, dates are checked,
only the right people see them, and no name ever reaches them (tests/dashboard_world.py)."""

from __future__ import annotations

import html
import io
import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy import select

from core.rules import PLATFORMS
from core.settings import Settings
from db.models import AuditEvent
from db.session import transaction
from tests.dashboard_world import DESCRIPTION, PUPIL, build
from tests.support import SQLITE_ONLY

AUTUMN = "/dashboard?term=2025-autumn"
GOVERNOR = "governor@oakfield.example"
CHAIR = "chair@oakfield.example"
HEAD = "head@oakfield.example"
# Names the world's cases hold: the pupil, the reporter, the case lead, a subject.
NAMES = (PUPIL, "Jordan", "Tom Byrne", "Daniel Price", "Amy Fletcher")


def row(page: str, label: str, table: str = "") -> str:
    """The figure on the row headed `label` (in the table captioned or headed `table`)."""
    if table:
        page = page[page.index(f">{table}<") :]
    found = re.search(
        rf'<th scope="row">{re.escape(html.escape(label))}</th><td[^>]*>([^<]*)</td>', page
    )
    assert found, f"no row {label!r}"
    return found.group(1)


def headline(page: str) -> dict[str, str]:
    labels = (
        "Cases opened",
        "Still open",
        "Closed",
        "Typical time to close (median)",
        "Longest time to close",
        "Requests waiting for an answer now",
        "Of those, overdue",
        "Referred to the police or CEOP",
        "Escalated to HR",
        "Cases with a letter to all parents",
        "Letters sent (email and post)",
    )
    return {label: row(page, label) for label in labels}


def test_the_figures_match_the_cases_of_the_term(
    configured: Settings, signed_in: Callable[[str], TestClient]
) -> None:
    build(configured.database_url)
    page = signed_in(GOVERNOR).get(AUTUMN)
    assert page.status_code == 200, page.text
    assert headline(page.text) == {
        "Cases opened": "7",
        "Still open": "3",
        "Closed": "3",
        "Typical time to close (median)": "5 days",
        "Longest time to close": "10 days",
        "Requests waiting for an answer now": "2",
        "Of those, overdue": "1",
        "Referred to the police or CEOP": "1",
        "Escalated to HR": "1",
        "Cases with a letter to all parents": "1",
        "Letters sent (email and post)": "2",
    }
    by_type = {
        "A pupil contacted staff": "3",
        "A parent contacted staff": "1",
        "Online abuse or harassment": "1",
        "Staff conduct": "2",
    }
    for label, n in by_type.items():
        assert row(page.text, label, "Kind of incident") == n, label
    # UK months: the case opened at 23:30 UTC on 30 September was opened in October here.
    months = {
        "September 2025": "1",
        "October 2025": "4",
        "November 2025": "1",
        "December 2025": "1",
    }
    for label, n in months.items():
        assert row(page.text, label, "Month") == n, label
    platforms = {"Instagram": "1", "TikTok": "1", "Facebook": "2", "X (Twitter)": "1"}
    platforms |= {"Snapchat": "1", "Another platform": "1", "YouTube": "0", "WhatsApp": "0"}
    for label, n in platforms.items():
        assert row(page.text, label, "Platform") == n, label
    outcomes = {
        "Still open": "3",
        "Closed: resolved": "1",
        "Closed: advice or guidance for the member of staff": "1",
        "Closed: procedure completed": "1",
        "Withdrawn (reported in error)": "1",
        "Closed: formal disciplinary process": "0",
    }
    for label, n in outcomes.items():
        assert row(page.text, label, "Outcome") == n, label


def test_each_chart_is_an_image_with_its_figures_in_words(
    configured: Settings, signed_in: Callable[[str], TestClient]
) -> None:
    build(configured.database_url)
    page = signed_in(GOVERNOR).get(AUTUMN).text
    charts = re.findall(r"<svg class=\"chart\".*?</svg>", page, re.S)
    assert len(charts) == 4
    for chart in charts:
        assert 'role="img"' in chart and "<title id=" in chart and "<desc id=" in chart
        assert "<script" not in chart and "style=" not in chart
    assert "October 2025: 4" in page, "the month chart's description says each figure"


def test_a_date_range_counts_only_the_cases_opened_on_those_days(
    configured: Settings, signed_in: Callable[[str], TestClient]
) -> None:
    build(configured.database_url)
    client = signed_in(GOVERNOR)
    october = client.get("/dashboard?start=2025-10-01&end=2025-10-31")
    assert october.status_code == 200
    assert row(october.text, "Cases opened") == "4"
    assert "1 October 2025 to 31 October 2025" in october.text
    # The last day of August in the UK (23:30) belongs to the summer, not the autumn.
    summer = client.get("/dashboard?start=31/08/2025&end=31/08/2025")
    assert row(summer.text, "Cases opened") == "1"
    both = client.get("/dashboard?start=2025-08-01&end=2025-12-31")
    assert row(both.text, "Cases opened") == "8"
    empty = client.get("/dashboard?start=2024-01-01&end=2024-03-31")
    assert row(empty.text, "Cases opened") == "0"
    assert "No cases were opened in these dates" in empty.text


@SQLITE_ONLY  # the form's checks: no query reaches the database
@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("start=2025-02-30&end=2025-03-01", "Enter the first day as a real date"),
        ("start=yesterday&end=2025-03-01", "Enter the first day as a real date"),
        ("start=2025-03-01&end=", "Enter the last day."),
        ("start=2025-03-02&end=2025-03-01", "The last day must be the same as the first day"),
        ("start=1999-12-31&end=2025-03-01", "from 1 January 2000 onwards"),
        ("start=2010-01-01&end=2025-03-01", "no more than six years apart"),
        ("end=2025-03-01", "Enter the first day."),
    ],
)
def test_dates_that_cannot_be_used_are_explained_not_failed(
    configured: Settings, signed_in: Callable[[str], TestClient], query: str, message: str
) -> None:
    page = signed_in(GOVERNOR).get(f"/dashboard?{query}")
    assert page.status_code == 400, page.text
    assert "There is a problem" in page.text and message in html.unescape(page.text)
    assert 'name="start"' in page.text, "the form is there to try again"


@SQLITE_ONLY
def test_an_unknown_term_or_a_bad_report_range_is_a_400(
    configured: Settings, signed_in: Callable[[str], TestClient]
) -> None:
    client = signed_in(GOVERNOR)
    for path in (
        "/dashboard?term=2025-winter",
        "/dashboard?term=twenty",
        "/dashboard/report.pdf?term=2025-winter",
        "/dashboard/report.pdf?start=2025-03-02&end=2025-03-01",
    ):
        answer = client.get(path)
        assert answer.status_code == 400, path


@pytest.mark.parametrize(
    ("email", "sees"),
    [
        (GOVERNOR, True),
        (CHAIR, True),
        (HEAD, True),
        ("dsl@oakfield.example", True),
        ("auditor@oakfield.example", True),
        ("tom.byrne@oakfield.example", False),
        ("hr@oakfield.example", False),
        ("admin@oakfield.example", False),
    ],
)
def test_who_sees_the_dashboard(
    configured: Settings, signed_in: Callable[[str], TestClient], email: str, sees: bool
) -> None:
    build(configured.database_url)
    client = signed_in(email)
    page = client.get(AUTUMN)
    assert page.status_code == (200 if sees else 403)
    nav = re.search(r'<nav aria-label="Main"[^>]*>.*?</nav>', client.get("/").text, re.S)
    assert nav is not None
    assert ('href="/dashboard"' in nav.group(0)) == sees
    if sees:
        main = page.text[page.text.index("<main") :]  # the masthead names who is signed in
        for name in (*NAMES, DESCRIPTION):
            assert name not in main, f"{email} sees {name!r}"


def test_governors_land_on_the_dashboard_and_the_head_never_counts_a_case_about_them(
    configured: Settings, signed_in: Callable[[str], TestClient]
) -> None:
    build(configured.database_url)
    client = signed_in(GOVERNOR)
    home = client.get("/", follow_redirects=False)
    assert home.status_code == 303 and home.headers["location"] == "/dashboard"
    client.cookies.clear()
    head = signed_in(HEAD).get(AUTUMN).text
    assert row(head, "Cases opened") == "6"
    assert row(head, "Staff conduct", "Kind of incident") == "1"


def report_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() or "" for page in reader.pages)


def test_the_governors_report_is_a_pdf_of_the_same_figures_naming_nobody(
    configured: Settings, signed_in: Callable[[str], TestClient]
) -> None:
    build(configured.database_url)
    client = signed_in(CHAIR)
    page = client.get(AUTUMN).text
    assert 'href="/dashboard/report.pdf?term=2025-autumn"' in page
    answer = client.get("/dashboard/report.pdf?term=2025-autumn")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/pdf"
    assert (
        "governors-report-oakfield-primary-school-2025-autumn.pdf"
        in (answer.headers["content-disposition"])
    )
    text = report_text(answer.content)
    squashed = " ".join(text.split())
    assert "Oakfield Primary School: Autumn term 2025" in squashed
    assert "Cases opened 7" in squashed and "Escalated to HR 1" in squashed
    assert "Typical time to close (median) 5 days" in squashed
    assert "October 2025 4" in squashed, "the month table"
    for name in (*NAMES, DESCRIPTION):
        assert name not in text
    with transaction(configured.database_url) as session:
        logged = session.scalars(
            select(AuditEvent).where(AuditEvent.kind == "governors_report.downloaded")
        ).one()
        assert logged.actor.startswith("Margaret Ellis")
        assert logged.data["first_day"] == "2025-09-01" and logged.data["last_day"] == "2025-12-31"


def test_a_report_that_would_name_someone_is_refused(
    configured: Settings,
    signed_in: Callable[[str], TestClient],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Were a label ever to carry a name (here: a platform's), the check stops the report."""
    build(configured.database_url)
    monkeypatch.setitem(PLATFORMS, "instagram", "Jordan's Instagram")
    answer = signed_in(CHAIR).get("/dashboard/report.pdf?term=2025-autumn")
    assert answer.status_code == 409
    assert answer.headers["content-type"].startswith("text/html")
    assert "the name of the pupil" in html.unescape(answer.text)
    with transaction(configured.database_url) as session:
        kinds = list(session.scalars(select(AuditEvent.kind).where(AuditEvent.case_id.is_(None))))
    assert "governors_report.refused" in kinds and "governors_report.downloaded" not in kinds


def test_the_demo_school_has_a_year_of_figures_to_show(configured: Settings) -> None:
    """`make run` seeds past cases, all settled, so the dashboard is not empty."""
    from datetime import timedelta

    from casework.demo import HISTORY_CASES, seed_demo_history
    from core.terms import DateRange, uk_today
    from db.schools import first_school
    from services.dashboard import dashboard

    with transaction(configured.database_url) as session:
        school = first_school(session)
        assert school is not None
        seed_demo_history(session, school)
        today = uk_today()
        board = dashboard(session, school.id, DateRange(today - timedelta(days=366), today), "")
    assert board.total == HISTORY_CASES and board.open_cases == 0
    assert board.figures.closed > 20 and board.letters > 0 and board.figures.hr_escalations > 0
    assert sum(1 for bar in board.breakdowns[1].rows if bar.value) >= 6, "spread over the months"
