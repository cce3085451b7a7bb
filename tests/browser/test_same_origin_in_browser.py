"""In a real browser: forms work at Casework's own address and are refused from any other."""

from __future__ import annotations

import pytest
from playwright.sync_api import ConsoleMessage, Page, expect

from core.settings import Settings
from tests.browser.chromium import needs_chromium
from tests.support import SQLITE_ONLY

pytestmark = [pytest.mark.browser, SQLITE_ONLY]


def ask_for_a_link(page: Page, base: str) -> None:
    page.goto(f"{base}/signin")
    page.get_by_label("School email address", exact=True).fill("head@oakfield.example")
    page.get_by_role("button", name="Email me a sign-in link").click()


@needs_chromium
def test_the_sign_in_form_works_here_and_nowhere_else(
    live_server: str, configured: Settings, page: Page
) -> None:
    blocked: list[str] = []

    def watch(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            blocked.append(message.text)

    page.on("console", watch)
    ask_for_a_link(page, live_server)
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()

    # The same server under another name is another site to the browser.
    other = live_server.replace("127.0.0.1", "localhost")
    ask_for_a_link(page, other)
    expect(page.get_by_role("heading", name="The form could not be accepted")).to_be_visible()
    expect(page.get_by_text(f"open Casework at {live_server} and try again")).to_be_visible()
    assert blocked == [], "the browser blocked part of a page"
