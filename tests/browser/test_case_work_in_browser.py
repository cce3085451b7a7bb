"""The DSL works a case from My work to the end in a real browser (Chromium), without
opening an email: answers both tasks in the app, adds a note and a screenshot sent in
later, withdraws the case (its run is cancelled, no more mail) and reopens it (the run
carries on and the case closes once the head has approved the letter)."""

from __future__ import annotations

import hashlib
import re
import time
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from api.security import cookie_name
from db.models import CaseStatus
from tests.browser.chromium import needs_chromium
from tests.e2e.flow_helpers import wait_closed
from tests.e2e.test_pupil_contact import DSL, HEAD, fifty_letters, open_case
from tests.stack import Stack
from tests.support import PNG, case_row, csrf_of, link_in, mail_to, signin, wait_until

# The pages are the same whatever database is behind them, and the queries behind them run
# on both in tests/api/test_case_work.py and tests/api/test_my_work.py.
pytestmark = [pytest.mark.browser, pytest.mark.parametrize("stack", ["sqlite"], indirect=True)]
RECORD_WHETHER = "please record – Record whether"


def signed_in_browser(page: Page, stack: Stack, email: str) -> None:
    """Sign in as staff do (emailed link, authenticator code), then browse as that person."""
    with stack.client() as client:
        signin(client, email, stack.mail)
        name = cookie_name("cw_session")
        cookie = client.cookies.get(name)
    assert cookie
    page.context.add_cookies([{"name": name, "value": cookie, "url": stack.base_url}])


def open_from_my_work(page: Page, stack: Stack, reference: str, needed: str) -> None:
    """Wait for the request to reach My work, then open it."""
    row = page.get_by_role("row").filter(has_text=reference).filter(has_text=needed)

    def listed() -> bool:
        page.goto(f"{stack.base_url}/work")
        return row.count() == 1

    wait_until(listed, 60, 1, f"{needed!r} in My work")
    row.get_by_role("link", name=re.compile(needed)).click()


def mail_about(stack: Stack, reference: str) -> int:
    return sum(reference in m.subject for m in stack.mail.all())


@needs_chromium
def test_the_dsl_works_a_case_from_my_work(stack: Stack, page: Page, tmp_path: Path) -> None:
    case_id, _ = open_case(stack)
    case = case_row(stack.db_url, case_id)
    emailed = link_in(mail_to(stack.mail, DSL, f"{case.reference}: {RECORD_WHETHER}"), "/tasks/")
    signed_in_browser(page, stack, DSL)

    open_from_my_work(page, stack, case.reference, "Record whether")
    page.get_by_label("Yes", exact=True).first.check()
    page.locator("input[name=reminder_given][value=yes]").check()
    page.get_by_role("button", name="Record the outcome").click()
    expect(page.get_by_role("main").get_by_role("status")).to_contain_text(
        "Your answer is recorded"
    )
    assert httpx.get(emailed, timeout=30).status_code == 410, "the emailed link now refuses"

    page.get_by_role("link", name=f"Open case {case.reference}").click()
    page.get_by_label("Add a note").fill("Form tutor told.")
    page.get_by_role("button", name="Add the note").click()
    expect(page.get_by_role("main").get_by_role("status")).to_contain_text("Your note is added")
    later = tmp_path / "later.png"
    later.write_bytes(PNG + b"sent on later")
    page.get_by_role("link", name="Add evidence").click()
    page.get_by_label("Files").set_input_files(later)
    page.get_by_role("button", name="Add the evidence").click()
    digest = hashlib.sha256(later.read_bytes()).hexdigest()
    expect(page.get_by_role("figure", name="later.png")).to_contain_text(digest)
    expect(page.locator(".note").first).to_contain_text("Form tutor told.")
    expect(page.get_by_role("list", name="History")).to_contain_text(
        "Daniel Price added evidence: later.png."
    )
    # The trail keeps the note's fingerprint, not its words: they go when the case is
    # disposed of, and the trail cannot change (docs/DECISIONS.md).
    page.get_by_role("link", name="Read the full audit trail").click()
    said = hashlib.sha256(b"Form tutor told.").hexdigest()
    expect(page.get_by_role("main")).to_contain_text(said)
    expect(page.get_by_role("main")).to_contain_text(digest)
    page.go_back()

    # Withdrawn while the second task waits: the run is cancelled and no more mail goes.
    open_from_my_work(page, stack, case.reference, "Record the outcome")
    run_id = case_row(stack.db_url, case_id).flow_run_id or ""
    stack.wait_for_state(run_id, "PAUSED")
    page.goto(f"{stack.base_url}/cases/{case_id}")
    page.get_by_role("link", name="Withdraw the case").click()
    page.get_by_label("Why is the case being withdrawn?").fill("Reported by mistake.")
    page.get_by_role("button", name="Withdraw the case").click()
    expect(page.get_by_role("main").get_by_role("status")).to_contain_text("The case is withdrawn")
    wait_until(lambda: stack.flow_run_state(run_id) == "CANCELLED", 30, 0.5, "the cancel")
    before = mail_about(stack, case.reference)
    time.sleep(4)  # the worker and the runner each pass several times meanwhile
    assert mail_about(stack, case.reference) == before, "no mail after withdrawal"

    # Reopened: the run carries on from the step that was waiting.
    page.get_by_role("link", name="Reopen the case").click()
    page.get_by_label("Why is the case being reopened?").fill("Not a mistake after all.")
    page.get_by_role("button", name="Reopen the case").click()
    expect(page.get_by_role("main").get_by_role("status")).to_contain_text("open again")
    open_from_my_work(page, stack, case.reference, "Record the outcome")
    page.get_by_label("Resolved through mediation or a restorative conversation").check()
    page.get_by_label("What was done").fill("Talked it through with the pupil.")
    page.get_by_role("button", name="Record the outcome").click()
    expect(page.get_by_role("main").get_by_role("status")).to_contain_text(
        "Your answer is recorded"
    )

    with stack.client() as head:  # the head approves the letter in the app too
        signin(head, HEAD, stack.mail)
        find = re.compile(rf'<a href="(/work/\d+)">[^<]*letter[^<]*</a>.*?{case.reference}', re.S)
        address = wait_until(
            lambda: (lambda m: m.group(1) if m else None)(find.search(head.get("/work").text)),
            60,
            1,
            "the letter approval in the head's My work",
        )
        form = head.get(address)
        done = head.post(address, data={"decision": "approved", "csrf_token": csrf_of(form.text)})
        assert "Your answer is recorded" in done.text, done.text
    wait_closed(stack, case_id)
    assert case_row(stack.db_url, case_id).status == CaseStatus.CLOSED
    assert len(fifty_letters(stack, case_id)) == 50
