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
    page.get_by_role("link", name="A pupil contacted a member of staff on social media").click()
    send = page.get_by_role("button", name="Send the report")

    cases, files = count(stack.db_url, Case), count(stack.db_url, Evidence)
    send.click()
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
    send.click()

    expect(page.get_by_role("status")).to_contain_text(
        re.compile(r"Your report is saved as case CW-\d{4}-\d+\.")
    )
    evidence = page.get_by_role("table").filter(
        has=page.get_by_role("columnheader", name="SHA-256")
    )
    row = evidence.get_by_role("row").filter(has_text="first-contact.png")
    expect(row).to_contain_text(hashlib.sha256(PNG).hexdigest())
    step = page.get_by_role("listitem").filter(has_text="Tell the headteacher a case is open")
    expect(step.locator(".tag")).to_have_text(re.compile("pending|done"))

    def head_told() -> bool:
        """The worker's hand-off tells the head moments after the report is saved."""
        page.reload()
        return (step.locator(".tag").text_content() or "").strip() == "done"

    wait_until(head_told, 30, 0.5, "the case page to say the head was told")

    page.screenshot(path=tmp_path / "case.png", full_page=True)
    assert (tmp_path / "case.png").stat().st_size > 0
