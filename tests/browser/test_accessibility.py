"""Every page type passes axe-core with no serious or critical problem, on a desktop and a phone.

The app runs under uvicorn (`live_server`) and one headless Chromium serves the whole module.
axe-core's JavaScript comes from the axe-playwright-python package, so nothing is fetched from
the network, and a page that asks for anything from another site fails the test. Each page is
checked twice: at desktop width, then at 390 px wide, where it must also not scroll sideways.
One form is also walked with the Tab key.

People are signed in by the same emailed-link route staff use, through a test client; the
session cookie is then handed to the browser (`sign_in`), so only that helper knows how
sign-in works.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from fastapi.testclient import TestClient
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Request,
    ViewportSize,
    expect,
)
from sqlalchemy import update

from api.security import cookie_name
from core.enums import IncidentType, Role, StepKey
from core.procedures import PROCEDURES, StepKind
from core.settings import Settings
from db.models import Case, ReportDraft, utcnow
from db.people import serve, staff_by_email
from db.session import transaction
from forms.people import SchoolForm
from mail.catcher import MailStore
from services.people import create_school
from services.requests import ask
from services.retention import dispose
from tests.browser.chromium import needs_chromium
from tests.dashboard_world import build as build_dashboard_world
from tests.retention_world import PUPIL, closed_case
from tests.search_world import pupil, report, who
from tests.support import (
    PNG,
    SQLITE_ONLY,
    case_id_of,
    delivered,
    link_in,
    make_approval,
    make_case,
    person,
    post_report,
    report_fields,
    signin,
    submit_report,
)

pytestmark = [
    pytest.mark.browser,
    needs_chromium,
    SQLITE_ONLY,
]

DESKTOP = ViewportSize(width=1280, height=900)
PHONE = ViewportSize(width=390, height=844)
NARROWEST = ViewportSize(width=320, height=640)
# Rounding in the layout engine may leave a pixel over; anything more is a real sideways scroll.
SCROLL_TOLERANCE = 2
SERIOUS = ("serious", "critical")
REPORTS = ("pupil_contact", "parent_contact", "online_abuse", "staff_conduct")
HEAD = "head@oakfield.example"
STAFF = "tom.byrne@oakfield.example"
ADMIN = "admin@oakfield.example"
AXE = Axe()
# Set to a directory to keep a screenshot of every page checked, at both widths.
SHOTS = os.environ.get("CASEWORK_TEST_SCREENSHOTS", "")


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    ctx = browser.new_context(viewport=DESKTOP)
    ctx.set_default_timeout(30_000)
    try:
        yield ctx
    finally:
        ctx.close()


def off_thread(deliver: Callable[[], int]) -> Callable[[], int]:
    """The outbox sender runs its own event loop; Playwright owns this thread's."""

    def run() -> int:
        with ThreadPoolExecutor(1) as pool:
            return pool.submit(deliver).result()

    return run


def local(link: str, base: str) -> str:
    """An emailed link (made for the configured base URL) on the live server."""
    return re.sub(r"^https?://[^/]+", base, link)


class Checker:
    """Opens pages in one tab and keeps every accessibility problem found, to report at once."""

    def __init__(self, context: BrowserContext, base: str, shots: Path | None = None) -> None:
        self.context = context
        self.base = base
        # Where a screenshot of every page checked is kept, at both widths (if anywhere).
        self.shots = shots or (Path(SHOTS) if SHOTS else None)
        self.page = context.new_page()
        self.problems: list[str] = []
        # No page may load anything from another site (a CDN): note any request that tries.
        self.page.on("request", self.stays_local)

    def stays_local(self, request: Request) -> None:
        if not request.url.startswith((self.base, "data:", "about:")):
            self.problems.append(f"{self.page.url}: fetches {request.url} from outside the app")

    def open(self, path: str, status: int = 200) -> Page:
        response = self.page.goto(local(path, self.base) if "://" in path else self.base + path)
        assert response is not None and response.status == status, (
            f"{path}: {response.status if response else 'no response'}, wanted {status}"
        )
        return self.page

    def visit(self, name: str, path: str, status: int = 200) -> Page:
        self.open(path, status)
        self.check(name)
        return self.page

    def check(self, name: str) -> None:
        """axe at desktop width, then axe and sideways scrolling at phone width."""
        page = self.page
        for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
            page.set_viewport_size(size)
            if self.shots:
                file = re.sub(r"[^a-z0-9]+", "-", f"{name} {label}".lower()).strip("-")
                page.screenshot(path=self.shots / f"{file}.png", full_page=True)
            for v in serious_violations(page):
                self.problems.append(f"{name} ({label}, {page.url}): {describe(v)}")
            if label == "phone":
                wide = page.evaluate("document.documentElement.scrollWidth")
                if wide > PHONE["width"] + SCROLL_TOLERANCE:
                    self.problems.append(
                        f"{name} (phone, {page.url}): scrolls sideways, {wide}px wide;"
                        f" widest: {widest(page)}"
                    )
        page.set_viewport_size(DESKTOP)

    def assert_clean(self) -> None:
        if self.problems:
            listed = "\n".join(self.problems)
            pytest.fail(f"{len(self.problems)} accessibility problems:\n{listed}", pytrace=False)


def serious_violations(page: Page) -> list[dict[str, Any]]:
    results = AXE.run(page)
    violations: list[dict[str, Any]] = results.response["violations"]
    return [v for v in violations if v.get("impact") in SERIOUS]


def describe(violation: dict[str, Any]) -> str:
    nodes = "".join(
        f"\n    {node['target']}: {node.get('failureSummary', '').replace(chr(10), ' ')}"
        f"\n      {node['html'][:200]}"
        for node in violation["nodes"]
    )
    return f"[{violation['impact']}] {violation['id']}: {violation['help']}{nodes}"


def widest(page: Page) -> str:
    """The elements that stick out past the right edge, to say what needs fixing."""
    found: list[str] = page.evaluate(
        """() => [...document.querySelectorAll('body *')]
            .filter(e => e.getBoundingClientRect().right > window.innerWidth + 2)
            .slice(0, 5)
            .map(e => e.tagName.toLowerCase() + (e.className ? '.' + e.className : '')
                 + ' ' + Math.round(e.getBoundingClientRect().right) + 'px')"""
    )
    return ", ".join(found)


def sign_in(
    checker: Checker,
    client: TestClient,
    email: str,
    smtp: tuple[MailStore, int],
    deliver: Callable[[], int],
) -> None:
    """Sign in through the app with a test client and give its session cookie to the browser."""
    client.cookies.clear()
    signin(client, email, smtp[0], off_thread(deliver))
    name = cookie_name("cw_session")
    cookie = client.cookies.get(name)
    assert cookie, f"{email} did not get a session"
    checker.context.clear_cookies()
    checker.context.add_cookies([{"name": name, "value": cookie, "url": checker.base}])


@pytest.fixture
def checker(context: BrowserContext, live_server: str) -> Checker:
    return Checker(context, live_server)


def test_signed_out_pages(
    checker: Checker, smtp: tuple[MailStore, int], deliver: Callable[[], int]
) -> None:
    page = checker.visit("sign-in", "/signin")
    page.get_by_label("School email address", exact=True).fill(HEAD)
    since = len(smtp[0].ids())
    page.get_by_role("button", name="Email me a sign-in link").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    checker.check("sign-in sent")
    link = link_in(delivered(smtp[0], HEAD, "sign in", off_thread(deliver), since), "/signin/")
    page = checker.visit("sign-in confirm", link)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Set up your authenticator app")).to_be_visible()
    checker.check("second factor: enrolment")
    page.get_by_label("6-digit code").fill("000000")
    page.get_by_role("button", name="Confirm and sign in").click()
    expect(page.get_by_role("heading", name="There is a problem")).to_be_visible()
    checker.check("second factor: wrong code")
    checker.visit("not found", "/no-such-page", 404)
    checker.visit("unknown link", "/approvals/not-a-real-token", 404)
    checker.visit("devmail list", "/dev/mail")
    page.get_by_role("link", name=re.compile("sign in", re.I)).first.click()
    checker.check("devmail message")
    checker.assert_clean()


def reported_case(client: TestClient, **answers: str) -> int:
    """A real report with a screenshot, sent by whoever `client` is signed in as."""
    sent = submit_report(client, [("first-contact.png", PNG, "image/png")], **answers)
    assert sent.status_code == 303, sent.text
    return case_id_of(sent)


def reporting(checker: Checker, client: TestClient, url: str) -> None:
    """The start page, a report's check page, its confirmation, and a report sent twice
    or kept too long, as the person reporting sees them."""
    page = checker.open("/report")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("alert")).to_contain_text("Choose what happened")
    checker.check("report chooser with errors")
    screenshot = [("first-contact.png", PNG, "image/png")]
    check = post_report(client, "pupil_contact", report_fields(), screenshot).headers["location"]
    page = checker.visit("report check", check)
    page.get_by_role("link", name="Change pupil's full name").click()
    checker.check("report changed from its check page")
    page = checker.open(check)
    page.get_by_role("button", name="Send the report").click()
    expect(page.locator(".govuk-panel")).to_contain_text("Report sent")
    checker.check("report sent")
    checker.visit("report already sent", check, 409)
    old = post_report(client, "pupil_contact", report_fields(), screenshot).headers["location"]
    with transaction(url) as session:
        session.execute(update(ReportDraft).values(created_at=utcnow() - timedelta(days=2)))
    checker.visit("report kept too long", old, 410)


def test_staff_and_head_pages(
    checker: Checker,
    client: TestClient,
    configured: Settings,
    smtp: tuple[MailStore, int],
    deliver: Callable[[], int],
) -> None:
    sign_in(checker, client, STAFF, smtp, deliver)
    case_id = reported_case(client, pupil_account="@jay_k")
    linked = a_later_case_naming_the_same_account(configured.database_url)
    checker.visit("staff home", "/")
    checker.visit("report chooser", "/report")
    reporting(checker, client, configured.database_url)
    for slug in REPORTS:
        page = checker.visit(f"report {slug}", f"/report/{slug}")
        page.locator("form[enctype] button[type=submit]").click()
        expect(page.get_by_role("alert")).to_contain_text("There is a problem")
        checker.check(f"report {slug} with errors")
    checker.visit("case (as its reporter)", f"/cases/{case_id}")
    checker.visit("forbidden", "/admin/people", 403)

    sign_in(checker, client, HEAD, smtp, deliver)
    ask_the_head(configured.database_url, case_id)
    checker.visit("case list", "/")
    page = checker.visit("case (as head)", f"/cases/{case_id}")
    pass_on_with_the_keyboard(checker, page)
    checker.visit("case with a linked case", f"/cases/{linked}")
    checker.visit("search results", "/search?q=Jordan")
    checker.visit("search that cannot run", "/search?q=%2A", 400)
    checker.visit("audit", "/audit")
    checker.visit("parents", "/admin/parents")
    checker.visit("stock response", "/admin/stock-response")
    page = checker.open("/admin/escalation")  # checked below with its problems shown too
    page.get_by_label("First").nth(1).select_option("")  # the case lead's chain, with a gap
    page.get_by_role("button", name="Save the chains").click()
    expect(page.get_by_role("alert")).to_contain_text("leave no empty place")
    checker.check("escalation chains with errors")
    checker.assert_clean()


def ask_the_head(url: str, case_id: int) -> None:
    """The procedure has asked the head to approve the letter to parents."""
    with transaction(url) as session:
        case = session.get(Case, case_id)
        assert case is not None
        ask(session, case, StepKey.APPROVE_PARENT_LETTER)


def pass_on_with_the_keyboard(checker: Checker, page: Page) -> None:
    """Open the hand-over form from the keyboard, then send it empty to see its problems."""
    page.get_by_text("Pass this to someone else").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_label("Pass it to")).to_be_visible()
    page.get_by_role("button", name="Pass it on").click()
    expect(page.get_by_role("alert")).to_contain_text("Choose who it should go to")
    expect(page.get_by_label("Pass it to")).to_be_visible()
    checker.check("case: passing a request on, with problems")


def a_later_case_naming_the_same_account(url: str) -> int:
    """The DSL's case about the same pupil's account, written as intake writes it."""
    with transaction(url) as session:
        case = report(
            session,
            who(session, "dsl"),
            IncidentType.PUPIL_CONTACT,
            "The same pupil sent messages again.",
            pupil("Jordan Miles", "https://www.instagram.com/jay_k/?igsh=abc"),
        )
        return case.id


def test_answering_an_emailed_link(checker: Checker, configured: Settings) -> None:
    """The approval page, the page that thanks the approver, and the used link's 410."""
    url = configured.database_url
    approval = make_approval(url, make_case(url))
    page = checker.visit("approval link", f"/approvals/{approval}")
    # The head's own wording is checked again: naming the pupil is refused, the words kept.
    wording = page.get_by_label("The letter's wording")
    wording.fill(wording.input_value().replace("Dear parent or carer,", "About Jordan:"))
    page.get_by_label("Approve", exact=False).first.check()
    page.get_by_role("button", name="Record my decision").click()
    expect(page.locator(".error-summary").first).to_contain_text("the name of the pupil")
    expect(wording).to_have_value(re.compile("About Jordan:"))
    checker.check("approval link: wording refused")
    page.get_by_role("button", name="Email me a confirmation code").click()
    expect(page.get_by_role("main").get_by_role("status")).to_contain_text("code is on its way")
    expect(wording).to_have_value(re.compile("About Jordan:"))
    # Rejecting needs no emailed confirmation code (approving does: see test_link_scanner).
    page.get_by_label("Reject", exact=False).first.check()
    page.get_by_label("Reason", exact=False).first.fill("The wording needs another look.")
    page.get_by_role("button", name="Record my decision").click()
    expect(page.get_by_role("main").get_by_role("status")).to_contain_text(
        "Your answer is recorded", timeout=30_000
    )
    checker.check("link done")
    checker.visit("used link", f"/approvals/{approval}", 410)
    checker.assert_clean()


def test_every_step_page(checker: Checker, configured: Settings) -> None:
    """Each procedure step that asks a person has its own page: check each one once."""
    url = configured.database_url
    seen: set[str] = set()
    for kind, procedure in PROCEDURES.items():
        for spec in procedure.steps:
            if spec.kind == StepKind.SYSTEM or spec.key in seen:
                continue
            seen.add(spec.key)
            token = make_approval(url, make_case(url, kind), step_key=spec.key)
            where = "approvals" if spec.kind == StepKind.APPROVAL else "tasks"
            checker.visit(f"{kind} step {spec.key}", f"/{where}/{token}")
    assert len(seen) >= 16
    checker.assert_clean()


def test_governor_and_admin_pages(
    checker: Checker,
    client: TestClient,
    configured: Settings,
    smtp: tuple[MailStore, int],
    deliver: Callable[[], int],
) -> None:
    make_case(configured.database_url)  # so the overview has numbers to show
    sign_in(checker, client, "governor@oakfield.example", smtp, deliver)
    checker.visit("governor overview", "/")
    sign_in(checker, client, ADMIN, smtp, deliver)
    checker.visit("admin home", "/")
    page = checker.visit("people", "/admin/people")
    page.locator("main a[href^='/admin/people/']").first.click()
    checker.check("person")
    page = checker.visit("schools", "/admin/schools")
    page.locator("main a[href^='/admin/schools/']").first.click()
    checker.check("school")
    serve_a_second_school(configured.database_url, "hr@oakfield.example")
    sign_in(checker, client, "hr@oakfield.example", smtp, deliver)
    page = checker.visit("header with a school switcher", "/")
    expect(page.get_by_label("School")).to_be_visible()
    checker.assert_clean()


def test_dashboard_pages(
    checker: Checker,
    client: TestClient,
    configured: Settings,
    smtp: tuple[MailStore, int],
    deliver: Callable[[], int],
) -> None:
    """The dashboard with its charts, and with dates it cannot use; also at 320 px wide."""
    build_dashboard_world(configured.database_url)
    sign_in(checker, client, "governor@oakfield.example", smtp, deliver)
    checker.visit("governor lands on the dashboard", "/")
    page = checker.visit("dashboard: a term", "/dashboard?term=2025-autumn")
    expect(page.get_by_role("img", name="Cases opened each month")).to_be_visible()
    page.set_viewport_size(NARROWEST)
    wide = page.evaluate("document.documentElement.scrollWidth")
    assert wide <= NARROWEST["width"] + SCROLL_TOLERANCE, f"{wide}px wide: {widest(page)}"
    page.set_viewport_size(DESKTOP)
    page.get_by_label("First day").fill("2025-10-31")
    page.get_by_label("Last day").fill("2025-10-01")
    page.get_by_label("Last day").press("Enter")  # the keyboard sends the form
    expect(page.get_by_role("alert")).to_contain_text("The last day must be")
    checker.check("dashboard: dates it cannot use")
    checker.assert_clean()


def serve_a_second_school(url: str, email: str) -> None:
    """Another school in the trust, which this person serves as well as their own."""
    with transaction(url) as session:
        person = staff_by_email(session, email)
        assert person is not None
        elm = create_school(session, None, SchoolForm(name="Elmbridge Academy"), None)
        serve(session, person.id, elm.id)


# Every control a person can reach in the form, in page order; a radio group is one stop.
FORM_STOPS = """form => {
    const groups = new Set();
    return [...form.querySelectorAll('input, select, textarea, button')]
        .filter(e => e.type !== 'hidden' && !e.disabled && e.getClientRects().length > 0)
        .filter(e => e.type !== 'radio' || (!groups.has(e.name) && groups.add(e.name)))
        .map(e => e.id || e.name || e.textContent.trim());
}"""
# Which control has focus, and whether focus shows: the control (or, for a radio or checkbox
# drawn by its label, the label's box) looks different focused than not.
FOCUSED = """() => {
    const e = document.activeElement;
    if (!e || !e.closest('form[enctype]')) return null;
    const look = () => {
        const s = getComputedStyle(e);
        const box = e.labels && e.labels.length ? getComputedStyle(e.labels[0], '::before') : null;
        const ring = s.outlineStyle === 'none' || parseFloat(s.outlineWidth) < 2
            || s.outlineColor === 'rgba(0, 0, 0, 0)' ? '' : s.outlineColor;
        return [ring, s.boxShadow, s.backgroundColor, box ? box.boxShadow : ''].join('|');
    };
    const focused = look();
    e.blur();
    const idle = look();
    e.focus();
    return [e.id || e.name || e.textContent.trim(), focused !== idle];
}"""


def test_the_report_form_can_be_filled_in_with_the_keyboard(
    checker: Checker,
    client: TestClient,
    smtp: tuple[MailStore, int],
    deliver: Callable[[], int],
) -> None:
    sign_in(checker, client, STAFF, smtp, deliver)
    page = checker.open("/report/pupil_contact")
    expected: list[str] = page.locator("form[enctype]").evaluate(FORM_STOPS)
    reached: list[str] = []
    for _ in range(len(expected) + 30):  # the masthead's links come first
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        if focused is None:
            if reached:
                break
            continue
        name, outlined = focused
        if reached and reached[-1] == name:
            # Chromium stops on each part of a date and time field (day, month, year, hour,
            # minute, then its calendar button, which has the browser's own focus ring): one
            # control, checked on arrival; its inner parts are out of the page's reach.
            continue
        assert outlined, f"{name} has no visible focus outline"
        reached.append(name)
    assert reached == expected
    assert expected[-1] == "Continue"


def test_working_a_case(
    checker: Checker,
    client: TestClient,
    configured: Settings,
    smtp: tuple[MailStore, int],
    deliver: Callable[[], int],
) -> None:
    """My work, answering in the app, and the pages that work a case off its procedure."""
    url = configured.database_url
    case_id = make_case(url)
    make_approval(url, case_id)
    sign_in(checker, client, HEAD, smtp, deliver)
    page = checker.visit("my work", "/work")
    page.locator("main a[href^='/work/']").first.click()
    checker.check("request answered in the app")
    page = checker.visit("case with notes", f"/cases/{case_id}")
    page.get_by_role("button", name="Add the note").click()
    expect(page.get_by_role("alert")).to_contain_text("Write the note")
    checker.check("case with a note error")
    for name, path, button in (
        ("add evidence", "evidence/add", "Add the evidence"),
        ("correct", "correct", "Save the correction"),
        ("withdraw", "withdraw", "Withdraw the case"),
    ):
        page = checker.visit(name, f"/cases/{case_id}/{path}")
        page.get_by_role("button", name=button).click()
        expect(page.get_by_role("alert")).to_contain_text("There is a problem")
        checker.check(f"{name} with errors")
    page.get_by_label("Why is the case being withdrawn?").fill("Reported twice by mistake.")
    page.get_by_role("button", name="Withdraw the case").click()
    expect(page.get_by_role("main").get_by_role("status")).to_contain_text("The case is withdrawn")
    checker.check("withdrawn case")
    checker.visit("reopen", f"/cases/{case_id}/reopen")
    checker.assert_clean()


def test_keeping_records(
    checker: Checker,
    client: TestClient,
    configured: Settings,
    smtp: tuple[MailStore, int],
    deliver: Callable[[], int],
) -> None:
    """The review queue, a case's review with its problems, a tombstone, the retention
    settings and a subject access export."""
    url = configured.database_url
    due, gone = closed_case(url), closed_case(url, full=False)
    with transaction(url) as session:
        head = staff_by_email(session, HEAD)
        assert head is not None
    dispose(gone, head.id, "Retention period over; reviewed.")
    sign_in(checker, client, HEAD, smtp, deliver)
    checker.visit("review queue", "/retention")
    page = checker.visit("case review", f"/retention/cases/{due}")
    page.get_by_role("button", name=re.compile("Dispose of case")).click()
    expect(page.get_by_role("alert")).to_contain_text("There is a problem")
    checker.check("case review with problems")
    checker.visit("tombstone of a disposed case", f"/cases/{gone}")
    page = checker.visit("retention settings", "/admin/retention")
    page.get_by_label(re.compile("Pupil safeguarding records")).fill("3")
    page.get_by_role("button", name="Save the rules").click()
    expect(page.get_by_role("alert")).to_contain_text("at least 25 years")
    checker.check("retention settings with problems")
    page = checker.visit("subject access", "/retention/subject-access")
    page.get_by_label("Or their name or email address").fill(PUPIL)
    page.get_by_role("button", name="Produce the export").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(PUPIL)
    checker.check("subject access export")
    checker.assert_clean()


def test_auditor_pages(
    checker: Checker,
    client: TestClient,
    configured: Settings,
    smtp: tuple[MailStore, int],
    deliver: Callable[[], int],
) -> None:
    """The auditor's pages: the trail, a case's chronology and check, a person's history,
    the filtered case list; each readable on a phone, and the trail reached by keyboard."""
    from tests.api.test_auditor_views import a_case_with_evidence

    url = configured.database_url
    case_id = a_case_with_evidence(url)
    reporter = person(url, Role.STAFF)
    sign_in(checker, client, "auditor@oakfield.example", smtp, deliver)
    checker.visit("auditor's case list, filtered", "/?outcome=letter&from=2026-01-01")
    checker.visit("auditor's trail", "/audit")
    page = checker.visit("chronology", f"/cases/{case_id}/chronology")
    checker.visit("case trail check", f"/cases/{case_id}/verify")
    checker.visit("a person's history", f"/audit/people/{reporter.id}")
    page = checker.open(f"/cases/{case_id}/chronology")
    for _ in range(40):  # keyboard only: tab to the check and follow it
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.getAttribute('href')") == (
            f"/cases/{case_id}/verify"
        ):
            break
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_contain_text("as it was written")
    sign_in(checker, client, "dsl@oakfield.example", smtp, deliver)
    page = checker.open(f"/cases/{case_id}/chronology")
    page.get_by_role("link", name="in error").first.click()
    checker.check("marking an event in error")
    page.get_by_role("button", name="Mark it in error").click()
    expect(page.get_by_role("alert")).to_contain_text("Say why the event is wrong.")
    checker.check("marking an event in error, with its error")
    checker.assert_clean()
