"""One journey per role, in Chromium, through the pages as people use them.

Staff report each kind of incident through the start page, the form, check your answers and
the confirmation (one of them by keyboard alone, the date boxes included), and every answer
they gave is then on the case page. The head decides the police question on a page that
shows the report and the evidence. HR opens the case it was sent and its pack. The auditor
opens a case's full trail. Every page on the way is checked with axe at 1280 and 390 px
(no serious or critical problem, no sideways scrolling) and kept as a screenshot at both
widths in var/test-artefacts/screenshots/ (tests.browser.test_accessibility.Checker).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, BrowserContext, Page, expect

from core.enums import AuditKind, IncidentType
from core.settings import Settings
from db.cases import get_case
from db.session import transaction
from mail.catcher import MailStore
from services.chronology import HAPPENED
from services.escalation import escalate_to_hr
from tests.browser.chromium import needs_chromium
from tests.browser.test_accessibility import (
    DESKTOP,
    NARROWEST,
    SCROLL_TOLERANCE,
    Checker,
    off_thread,
    sign_in,
    widest,
)
from tests.pictures import sideways_photo
from tests.support import (
    SQLITE_ONLY,
    case_with_photo,
    delivered,
    link_in,
    make_approval,
    make_case,
)

pytestmark = [pytest.mark.browser, needs_chromium, SQLITE_ONLY]

ARTEFACTS = Path(__file__).resolve().parents[2] / "var" / "test-artefacts" / "screenshots"
STAFF = "tom.byrne@oakfield.example"
HEAD = "head@oakfield.example"
HR = "hr@oakfield.example"
AUDITOR = "auditor@oakfield.example"
PHOTO = sideways_photo()


@pytest.fixture
def journey(browser: Browser, live_server: str) -> Iterator[Checker]:
    # Documents (packs) are served sandboxed, with scripts off: axe needs to run in them.
    ctx: BrowserContext = browser.new_context(viewport=DESKTOP, bypass_csp=True)
    ctx.set_default_timeout(30_000)
    try:
        yield Checker(ctx, live_server, shots=ARTEFACTS)
    finally:
        ctx.close()


def shot(tmp_path: Path) -> Path:
    path = tmp_path / "evidence.jpg"
    path.write_bytes(PHOTO)
    return path


def start(journey: Checker, choice: str) -> Page:
    page = journey.visit("start page", "/report")
    page.get_by_label(choice).check()
    page.get_by_role("button", name="Continue").click()
    return page


def when(page: Page, day: str, month: str, year: str, time: str) -> None:
    boxes = page.get_by_role("group", name="When did it happen?")
    for box, typed in (("Day", day), ("Month", month), ("Year", year), ("Time", time)):
        boxes.get_by_label(box).fill(typed)


def send_and_open_the_case(journey: Checker, name: str) -> str:
    """From a filled-in form: check the answers, send, and open the case; its page's text."""
    page = journey.page
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Check your answers")).to_be_visible()
    journey.check(f"{name}: check your answers")
    page.get_by_role("button", name="Send the report").click()
    expect(page.get_by_role("heading", name="Report sent")).to_be_visible()
    journey.check(f"{name}: report sent")
    page.get_by_role("link", name="View case").click()
    expect(page.get_by_role("heading", name="What was reported")).to_be_visible()
    journey.check(f"{name}: case page")
    return page.get_by_role("main").inner_text()


def every_answer_shown(text: str, answers: list[str]) -> None:
    missing = [a for a in answers if a not in text]
    assert not missing, f"answers given on the form but not on the case page: {missing}"


def tab_until(page: Page, reached: str, what: str, limit: int = 80) -> None:
    """Press Tab until `reached` (JavaScript about `e`, the focused element) holds, as a
    keyboard user would."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"(e => !!e && ({reached}))(document.activeElement)"):
            return
    raise AssertionError(f"{what} is not reachable with the Tab key")


def tab_to(page: Page, element_id: str) -> None:
    tab_until(page, f"e.id === {element_id!r}", f"#{element_id}")


def tab_to_button(page: Page, name: str) -> None:
    tab_until(page, f"e.tagName === 'BUTTON' && e.textContent.trim() === {name!r}", name)


def type_into(page: Page, element_id: str, text: str) -> None:
    tab_to(page, element_id)
    page.keyboard.type(text)


def test_staff_report_each_kind_of_incident_and_see_every_answer(
    journey: Checker,
    client: TestClient,
    smtp: tuple[MailStore, int],
    deliver: Callable[[], int],
    tmp_path: Path,
) -> None:
    sign_in(journey, client, STAFF, smtp, deliver)
    evidence = shot(tmp_path)

    # A pupil's contact, by keyboard alone (only the file is chosen the browser's way).
    page = journey.visit("start page", "/report")
    tab_to(page, "what_happened")
    page.keyboard.press("Space")
    tab_to_button(page, "Continue")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="A pupil contacted you")).to_be_visible()
    journey.check("pupil contact form")
    tab_to(page, "platform")
    page.keyboard.press("ArrowDown")  # from Facebook to Instagram
    for box, typed in (("occurred_at", "20"), ("occurred_at-month", "11")):
        type_into(page, box, typed)
    type_into(page, "occurred_at-year", "2026")
    type_into(page, "occurred_at-time", "6:30pm")
    type_into(page, "description", "A pupil sent me a follow request and two messages.")
    type_into(page, "pupil_name", "Jordan Miles")
    type_into(page, "pupil_year_group", "Year 6")
    type_into(page, "pupil_reference", "A1234")
    type_into(page, "pupil_account", "@jay_k")
    tab_to(page, "contact_continued")
    page.keyboard.press("Space")
    tab_to(page, "sexual_images")
    page.keyboard.press("ArrowDown")  # "No, it does not"
    page.locator("#evidence").set_input_files(evidence)
    type_into(page, "evidence_source", "instagram.com/jay_k")
    tab_to_button(page, "Continue")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Check your answers")).to_be_visible()
    journey.check("pupil contact: check your answers")
    tab_to_button(page, "Send the report")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Report sent")).to_be_visible()
    journey.check("pupil contact: report sent")
    page.get_by_role("link", name="View case").click()
    journey.check("pupil contact: case page")
    every_answer_shown(
        page.get_by_role("main").inner_text(),
        [
            "Instagram",
            "20 November 2026, 18:30",
            "A pupil sent me a follow request and two messages.",
            "Jordan Miles",
            "Year 6",
            "A1234",
            "@jay_k",
            "continued",
            "evidence.jpg",
        ],
    )

    # A parent's contact.
    page = start(journey, "A parent or carer contacted me on social media")
    journey.check("parent contact form")
    page.get_by_role("group", name="Which platform did the parent use?").get_by_label(
        "Facebook"
    ).check()
    when(page, "21", "11", "2026", "19:40")
    page.get_by_label("What happened?").fill("A parent sent a friend request late at night.")
    page.get_by_label("Parent's or carer's name").fill("Pat Evans")
    page.get_by_label("Their child's year group (optional)").select_option("Year 4")
    page.get_by_label("A friend or follow request").check()
    page.get_by_label("No, not yet").check()
    page.get_by_label("No, it does not").check()
    text = send_and_open_the_case(journey, "parent contact")
    every_answer_shown(
        text,
        [
            "Facebook",
            "21 November 2026, 19:40",
            "A parent sent a friend request late at night.",
            "Pat Evans",
            "Year 4",
            "A friend or follow request",
        ],
    )

    # Abuse posted online, with the questions that open only after some answers.
    page = start(journey, "Someone posted or sent abusive or offensive material")
    page.get_by_role("group", name="Where was it posted or sent?").get_by_label(
        "Another platform"
    ).check()
    page.get_by_label("Which platform?").fill("Threads")
    when(page, "19", "11", "2026", "8:15pm")
    page.get_by_label("What happened?").fill("Racist comments under a photo of a colleague.")
    expect(page.get_by_label("Name of the person targeted")).to_be_hidden()
    page.get_by_label("Another member of staff").check()
    page.get_by_label("Name of the person targeted").fill("Sara Novak")
    page.get_by_label("Links or account names").fill("https://threads.example/p/1\n@angry")
    page.get_by_label("Racist").check()
    page.get_by_label("A current pupil").check()
    page.get_by_label("Their name").fill("Jay Kerr")
    page.get_by_label("Yes, it is still there").check()
    page.get_by_label("No, it does not").check()
    page.locator("#evidence").set_input_files(evidence)
    journey.check("online abuse form, filled in")
    text = send_and_open_the_case(journey, "online abuse")
    every_answer_shown(
        text,
        [
            "Threads",
            "19 November 2026, 20:15",
            "Racist comments under a photo of a colleague.",
            "Another member of staff",
            "Sara Novak",
            "https://threads.example/p/1",
            "@angry",
            "Racist",
            "A current pupil",
            "Jay Kerr",
            "evidence.jpg",
        ],
    )

    # A colleague's conduct: the reporter is not among the people it can be about.
    page = start(journey, "A member of staff may have broken the social media policy")
    about = page.get_by_label("Who is the report about?")
    assert "Tom Byrne" not in about.inner_text(), "nobody can report themselves"
    about.select_option(label=about.locator("option").nth(1).inner_text())
    chosen = about.locator("option:checked").inner_text().split(" — ")[0]
    page.get_by_label("Their account name or profile link (optional)").fill("@colleague")
    page.get_by_role("group", name="Which platform is it on?").get_by_label("TikTok").check()
    when(page, "18", "11", "2026", "21:00")
    page.get_by_label("What happened?").fill(
        "A colleague messaged a pupil from a personal account."
    )
    page.get_by_label("Private contact with pupils").check()
    page.get_by_label("I am not sure").check()
    page.get_by_label("No, it does not").check()
    text = send_and_open_the_case(journey, "staff conduct")
    every_answer_shown(
        text,
        [
            chosen,
            "@colleague",
            "TikTok",
            "18 November 2026, 21:00",
            "A colleague messaged a pupil from a personal account.",
            "Private contact with pupils",
        ],
    )
    journey.assert_clean()


def test_the_head_decides_the_police_question_seeing_the_evidence(
    journey: Checker,
    client: TestClient,
    configured: Settings,
    smtp: tuple[MailStore, int],
    deliver: Callable[[], int],
) -> None:
    url = configured.database_url
    case_id, _ = case_with_photo(url, IncidentType.ONLINE_ABUSE, PHOTO)
    make_approval(url, case_id, step_key="police_decision")
    sign_in(journey, client, HEAD, smtp, deliver)

    page = journey.visit("my work", "/work")
    page.get_by_role("link", name="Headteacher decides whether to contact the police").click()
    journey.check("head's police decision")
    expect(page.get_by_text("What was reported")).to_be_visible()
    picture = page.get_by_role("img", name="the-post.jpg (download the original)")
    expect(picture).to_be_visible()
    loaded = picture.evaluate("img => img.complete && img.naturalWidth > 0")
    assert loaded, "the head sees the screenshot itself"
    expect(page.get_by_role("link", name="Open case")).to_have_attribute(
        "href", f"/cases/{case_id}"
    )
    page.get_by_role("radio").first.check()
    page.get_by_label("Reason").fill("Racist content about a member of staff.")
    page.get_by_role("button", name="Record my decision").click()
    expect(page.get_by_role("main").get_by_role("status")).to_contain_text(
        "Your answer is recorded"
    )
    journey.check("head's decision recorded")
    page.get_by_role("link", name="Open case").click()
    expect(page.get_by_role("list", name="History")).to_contain_text(
        "Helen Okafor decided “Headteacher decides whether to contact the police”: "
        "Refer to the police."
    )
    journey.check("head: the case page")
    page.set_viewport_size(NARROWEST)  # the narrowest phone in use: still no sideways scroll
    wide = page.evaluate("document.documentElement.scrollWidth")
    assert wide <= NARROWEST["width"] + SCROLL_TOLERANCE, f"{wide}px wide: {widest(page)}"
    journey.assert_clean()


def test_hr_opens_its_escalation_and_the_auditor_the_full_trail(
    journey: Checker,
    client: TestClient,
    configured: Settings,
    smtp: tuple[MailStore, int],
    deliver: Callable[[], int],
) -> None:
    url = configured.database_url
    case_id = make_case(url, IncidentType.STAFF_CONDUCT)
    with transaction(url) as session:
        escalate_to_hr(session, get_case(session, case_id))
    told = delivered(smtp[0], HR, "HR", off_thread(deliver))

    sign_in(journey, client, HR, smtp, deliver)
    page = journey.visit("hr: the pack from its email", link_in(told, "/packs/hr"))
    expect(page.get_by_role("main")).to_contain_text("The report")
    page = journey.visit("hr: the case", f"/cases/{case_id}")
    expect(page.get_by_role("link", name="HR case pack").first).to_be_visible()

    sign_in(journey, client, AUDITOR, smtp, deliver)
    page = journey.visit("auditor: the case", f"/cases/{case_id}")
    page.get_by_role("link", name="Read the full audit trail").click()
    journey.check("auditor: the full trail")
    expect(page.get_by_role("main")).to_contain_text(HAPPENED[AuditKind.PACK_PRODUCED])
    journey.assert_clean()
