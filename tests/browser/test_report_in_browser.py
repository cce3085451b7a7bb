"""A member of staff signs in and reports a pupil contact in a real browser (Chromium)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from db.models import Case, Evidence
from tests.browser.chromium import needs_chromium
from tests.stack import Stack
from tests.support import PNG, count, link_in, mail_to, wait_until

# One browser run is enough: the pages are the same whatever database is behind them.
pytestmark = [pytest.mark.browser, pytest.mark.parametrize("stack", ["sqlite"], indirect=True)]

STAFF = "tom.byrne@oakfield.example"


def sign_in(page: Page, stack: Stack) -> None:
    page.goto(f"{stack.base_url}/report")
    expect(page).to_have_url(re.compile(r"/signin\?next="))
    page.get_by_label("School email address", exact=True).fill(STAFF)
    since = len(stack.mail.ids())
    page.get_by_role("button", name="Email me a sign-in link").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()

    page.goto(link_in(mail_to(stack.mail, STAFF, "sign in", since=since), "/signin/"))
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("banner")).to_contain_text("Tom Byrne")
    expect(page).to_have_url(f"{stack.base_url}/report")


@needs_chromium
def test_staff_member_reports_a_pupil_contact(stack: Stack, page: Page, tmp_path: Path) -> None:
    sign_in(page, stack)
    expect(page.get_by_role("heading", name="Report a social media incident")).to_be_visible()
    expect(page.get_by_text("call 999")).to_be_visible()
    question = page.get_by_role("group", name="What happened?")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("alert")).to_contain_text("Choose what happened")
    question.get_by_label("A pupil contacted me on social media").check()
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(f"{stack.base_url}/report/pupil_contact")
    go_on = page.get_by_role("button", name="Continue")

    cases, files = count(stack.db_url, Case), count(stack.db_url, Evidence)
    go_on.click()
    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("There is a problem")
    for message in (
        "Choose the platform the pupil used.",
        "Enter when the contact happened.",
        "Enter the pupil's name as it appears in the school's records.",
        "Say whether the pupil has kept contacting you.",
        "Attach at least one screenshot or document as evidence.",
    ):
        expect(summary).to_contain_text(message)
    assert (count(stack.db_url, Case), count(stack.db_url, Evidence)) == (cases, files)

    screenshot = tmp_path / "first-contact.png"
    screenshot.write_bytes(PNG)
    page.get_by_role("group", name="Which platform did the pupil use?").get_by_label(
        "Instagram"
    ).check()
    when = page.get_by_role("group", name="When did it happen?")
    for box, typed in (("Day", "20"), ("Month", "11"), ("Year", "2026"), ("Time", "6:30pm")):
        when.get_by_label(box).fill(typed)
    page.get_by_label("What happened?", exact=True).fill(
        "A pupil sent me a follow request and two direct messages."
    )
    page.get_by_label("Pupil's full name", exact=True).fill("Jordan Miles")
    page.get_by_label("Year group", exact=True).select_option("Year 6")
    page.get_by_label("Yes, it has continued", exact=True).check()
    page.get_by_label("No, it does not", exact=True).check()  # no sexual images of a child
    page.get_by_label("Evidence", exact=True).set_input_files(screenshot)
    go_on.click()

    # Check the answers, change one, and check again: nothing is sent yet.
    check = page.get_by_role("heading", name="Check your answers before sending your report")
    expect(check).to_be_visible()
    answers = page.locator(".govuk-summary-list").first
    expect(answers).to_contain_text("Jordan Miles")
    expect(answers).to_contain_text("20 November 2026, 18:30")
    expect(page.locator("main")).to_contain_text("first-contact.png")
    page.get_by_role("link", name="Change pupil's full name").click()
    expect(page.get_by_label("Pupil's full name", exact=True)).to_have_value("Jordan Miles")
    expect(page.locator("#kept-files")).to_contain_text("first-contact.png")
    page.get_by_label("Pupil's full name", exact=True).fill("Jordan Mills")
    page.get_by_role("button", name="Continue").click()
    expect(answers).to_contain_text("Jordan Mills")
    expect(page.locator("main")).to_contain_text("first-contact.png")
    assert count(stack.db_url, Case) == cases, "nothing is sent before the answers are checked"

    page.get_by_role("button", name="Send the report").click()
    panel = page.locator(".govuk-panel--confirmation")
    expect(panel).to_contain_text("Report sent")
    expect(panel).to_contain_text(re.compile(r"CW-\d{4}-\d+"))
    expect(page.get_by_role("heading", name="What happens next")).to_be_visible()
    expect(page.locator("main")).to_contain_text("do not reply to the pupil")
    assert count(stack.db_url, Case) == cases + 1
    page.screenshot(path=tmp_path / "sent.png", full_page=True)

    page.get_by_role("link", name=re.compile(r"View case CW-")).click()
    expect(page).to_have_url(re.compile(r"/cases/\d+$"))
    case_id = int(page.url.rsplit("/", 1)[1])
    expect(page.locator("main")).to_contain_text("first-contact.png")
    kept = Evidence.case_id == case_id, Evidence.sha256 == hashlib.sha256(PNG).hexdigest()
    assert count(stack.db_url, Evidence, *kept) == 1, "the original, byte for byte"
    step = page.get_by_role("listitem").filter(has_text="Tell the headteacher a case is open")

    def head_told() -> bool:
        """The worker's hand-off tells the head moments after the report is saved."""
        page.reload()
        return "done" in (step.text_content() or "").lower()

    wait_until(head_told, 30, 0.5, "the case page to say the head was told")

    page.screenshot(path=tmp_path / "case.png", full_page=True)
    assert (tmp_path / "case.png").stat().st_size > 0
