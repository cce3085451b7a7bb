"""The headteacher imports 5,000 parents in Chromium and watches the progress bar."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from api.routes import admin
from core.parent_directory import ImportResult, ParentRow
from core.settings import Settings
from db.models import Person, Role
from forms.parent_directory import check_file
from mail.catcher import MailStore
from tests.browser.chromium import needs_chromium
from tests.support import SQLITE_ONLY, authenticator_code, count, delivered, link_in

pytestmark = [pytest.mark.browser, SQLITE_ONLY]

HEAD = "head@oakfield.example"
PARENTS = 5_000


def big_export(path: Path) -> Path:
    lines = ["Name,Email,Year groups,Preferred contact,Postal address"]
    lines += [f"Parent {n},carer{n}@mis.example,Year {n % 6 + 1},email," for n in range(PARENTS)]
    path.write_text("\r\n".join(lines) + "\r\n")
    return path


def sign_in(page: Page, base: str, store: MailStore, deliver: Callable[[], int]) -> None:
    page.goto(f"{base}/signin")
    page.get_by_label("School email address", exact=True).fill(HEAD)
    since = len(store.ids())
    page.get_by_role("button", name="Email me a sign-in link").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
    # No worker runs beside this in-process server; Playwright owns this thread's loop.
    with ThreadPoolExecutor(1) as pool:
        link = link_in(
            delivered(store, HEAD, "sign in", lambda: pool.submit(deliver).result(), since),
            "/signin/",
        )
    page.goto(re.sub(r"^https?://[^/]+", base, link))
    page.get_by_role("button", name="Sign in", exact=True).click()
    # The headteacher's role needs a second factor: enrol an authenticator, type its code.
    expect(page.get_by_role("heading", name="Set up your authenticator app")).to_be_visible()
    code = authenticator_code(base, HEAD, page.content())
    page.get_by_label("6-digit code").fill(code)
    page.get_by_role("button", name="Confirm and sign in").click()
    expect(page.get_by_role("banner")).to_contain_text("Helen Okafor")


@needs_chromium
def test_a_large_import_shows_its_progress_then_the_result(
    live_server: str,
    configured: Settings,
    smtp: tuple[MailStore, int],
    deliver: Callable[[], int],
    page: Page,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sign_in(page, live_server, smtp[0], deliver)
    page.goto(f"{live_server}/admin/parents")
    page.get_by_label(re.compile("CSV file")).set_input_files(big_export(tmp_path / "mis.csv"))

    # The server runs in this process: hold its import once the file is checked (before it
    # opens a transaction), so the bar can be read at a known point before the result
    # replaces the page.
    checked, go_on = threading.Event(), threading.Event()

    def held_check(*args: Any, **kwargs: Any) -> tuple[list[ParentRow], ImportResult]:
        found = check_file(*args, **kwargs)
        checked.set()
        assert go_on.wait(60), "the test never let the import go on"
        return found

    monkeypatch.setattr(admin, "check_file", held_check)
    try:
        page.get_by_role("button", name="Check and import").click()
        bar = page.get_by_role("progressbar")
        expect(bar).to_be_visible()
        expect(page.get_by_role("button", name="Check and import")).to_be_disabled()
        expect(page.locator("#import-count")).to_have_text(f"{PARENTS:,} of {PARENTS:,} lines")
        expect(page.locator("#import-stage")).to_have_text("Checking every line of the file")
        expect(bar).to_have_attribute("max", str(PARENTS))
        assert checked.is_set()
        assert count(configured.database_url, Person, Person.role == Role.PARENT) == 50
    finally:
        go_on.set()
    expect(page.get_by_role("main").get_by_role("status")).to_contain_text(
        f"Imported {PARENTS:,} parents and carers: {PARENTS:,} added, 0 updated, 0 unchanged."
    )
    expect(page.get_by_role("progressbar")).to_be_hidden()
    assert count(configured.database_url, Person, Person.role == Role.PARENT) == 50 + PARENTS
