"""The case page follows the letter to parents by itself: from "Preparing the letters…" to
"0 of N sent" to "N of N sent" as the real send step queues it and the real sender delivers
it, with no reload, and with no serious accessibility problem while it counts."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect

from api.security import cookie_name
from core.settings import Settings
from db.models import OutboxStatus
from mail.catcher import MailStore
from tests.browser.chromium import needs_chromium
from tests.browser.test_accessibility import describe, off_thread, serious_violations
from tests.db.test_letter_progress import approve_letter, mark
from tests.flows.test_letters import DEMO_PARENTS, send
from tests.support import SQLITE_ONLY, make_case, signin

pytestmark = [pytest.mark.browser, needs_chromium, SQLITE_ONLY]

HEAD = "head@oakfield.example"


def sign_in(
    page: Page,
    client: TestClient,
    base: str,
    smtp: tuple[MailStore, int],
    deliver: Callable[[], int],
) -> None:
    """Sign the head in through the app with a test client; the browser gets the cookie."""
    signin(client, HEAD, smtp[0], off_thread(deliver))
    name = cookie_name("cw_session")
    cookie = client.cookies.get(name)
    assert cookie, "the head did not get a session"
    page.context.add_cookies([{"name": name, "value": cookie, "url": base}])


def no_serious_problems(page: Page) -> None:
    problems = [describe(v) for v in serious_violations(page)]
    assert not problems, "\n".join(problems)


def test_the_case_page_counts_the_letters_out_without_a_reload(
    page: Page,
    live_server: str,
    client: TestClient,
    configured: Settings,
    smtp: tuple[MailStore, int],
    deliver: Callable[[], int],
) -> None:
    url = configured.database_url
    case_id = make_case(url)
    sign_in(page, client, live_server, smtp, deliver)  # first: signing in runs the sender
    approve_letter(url, case_id)

    page.goto(f"{live_server}/cases/{case_id}")
    block = page.locator("#letter-progress")
    headline = block.locator("[data-headline]")
    expect(headline).to_have_text("Preparing the letters…")
    page.evaluate("window.stillTheSamePage = true")  # a reload would forget it

    assert off_thread(lambda: send(case_id))() == DEMO_PARENTS
    expect(headline).to_have_text(f"Queued: 0 of {DEMO_PARENTS} sent")
    expect(block.locator("progress")).to_have_attribute("max", str(DEMO_PARENTS))
    no_serious_problems(page)

    mark(url, case_id, OutboxStatus.SENT, 20)
    expect(headline).to_have_text(f"Sending: 20 of {DEMO_PARENTS} sent")
    expect(block.locator("progress")).to_have_attribute("value", "20")

    assert off_thread(deliver)() == DEMO_PARENTS - 20
    done = re.compile(rf"^All {DEMO_PARENTS} sent on \d{{1,2}} \w+ \d{{4}}, \d\d:\d\d$")
    expect(headline).to_have_text(done)
    expect(block.locator("[aria-live=polite]")).to_have_text(done)  # said at once when done
    expect(block.locator("progress")).to_have_attribute("value", str(DEMO_PARENTS))
    assert page.evaluate("window.stillTheSamePage") is True, "the page was reloaded"
    no_serious_problems(page)
