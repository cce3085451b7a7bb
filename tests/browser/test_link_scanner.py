"""A mail scanner that fills in forms cannot approve the parent letter or refer to the police.

The scanner is a headless Chromium that opens every link emailed about a case and, on every
page it reaches, picks the first option of each group, fills every text box with junk, ticks
every box and presses every button of every form, including "Email me a confirmation code".
It never sees the code, which arrives in a second email with no link in it, so nothing is
decided.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pytest
from playwright.sync_api import Page
from sqlalchemy import select

from core.enums import EmailKind, IncidentType, StepKey
from core.rules import CONFIRMED_ANSWERS
from core.settings import Settings
from db.models import Approval, Case, DecisionCode, OutboxMessage
from db.session import transaction
from mail.catcher import MailStore
from services.requests import ask
from tests.browser.chromium import needs_chromium
from tests.support import SQLITE_ONLY, count, make_case

pytestmark = [pytest.mark.browser, SQLITE_ONLY]

CONSEQUENTIAL = sorted({step for step, _ in CONFIRMED_ANSWERS})
JUNK = "123456 scanner test text"


def fill_in_everything(page: Page) -> None:
    """What a form-filling scanner does: first option, every box ticked, junk everywhere."""
    seen: set[str] = set()
    radios = page.locator("input[type=radio]")
    for n in range(radios.count()):
        radio = radios.nth(n)
        name = radio.get_attribute("name") or ""
        if name not in seen:
            seen.add(name)
            radio.check()
    boxes = page.locator("input[type=checkbox]")
    for n in range(boxes.count()):
        boxes.nth(n).check()
    fields = page.locator("textarea, input[type=text], input:not([type]), input[type=email]")
    for n in range(fields.count()):
        fields.nth(n).fill(JUNK)


def submit_every_form(page: Page, url: str) -> int:
    """Open `url`, then fill in each form and press each of its buttons in turn; how many
    submissions were sent."""
    page.goto(url)
    buttons = [
        (n, m)
        for n in range(page.locator("form").count())
        for m in range(page.locator("form").nth(n).locator("button").count())
    ]
    for n, m in buttons:
        page.goto(url)
        fill_in_everything(page)
        page.locator("form").nth(n).locator("button").nth(m).click()
        page.wait_for_load_state()
    return len(buttons)


def links_to_decisions(store: MailStore, server: str) -> list[str]:
    """Every decision or task link emailed so far, pointed at the test's server."""
    return [
        link.replace("http://testserver", server)
        for mail in store.all()
        for link in mail.links
        if "/approvals/" in link or "/tasks/" in link
    ]


def send_mail(deliver: Callable[[], int]) -> None:
    """Run the outbox sender on its own thread: Playwright's loop holds this one."""
    with ThreadPoolExecutor(1) as pool:
        pool.submit(deliver).result()


@needs_chromium
def test_a_form_filling_scanner_decides_nothing_that_leaves_the_school(
    live_server: str,
    configured: Settings,
    smtp: tuple[MailStore, int],
    deliver: Callable[[], int],
    page: Page,
) -> None:
    url = configured.database_url
    case_id = make_case(url, IncidentType.ONLINE_ABUSE)
    with transaction(url) as session:
        case = session.get(Case, case_id)
        assert case is not None
        for step in (*CONSEQUENTIAL, StepKey.RECORD_MEETING):
            ask(session, case, StepKey(step))
    send_mail(deliver)
    links = links_to_decisions(smtp[0], live_server)
    assert len(links) == len(CONSEQUENTIAL) + 1

    # A decision page has two buttons (record the decision; ask for a code), a task page one.
    assert sum(submit_every_form(page, link) for link in links) == 2 * len(CONSEQUENTIAL) + 1
    send_mail(deliver)  # the confirmation codes the scanner asked for go out
    assert links_to_decisions(smtp[0], live_server) == links, "the code emails carry no link"
    for link in links:  # and once more, in case a code had been waiting
        submit_every_form(page, link)

    assert count(url, DecisionCode) > 0, "the scanner did ask for codes"
    with transaction(url) as session:
        decided = session.scalars(
            select(Approval.step_key).where(
                Approval.case_id == case_id,
                Approval.step_key.in_(CONSEQUENTIAL),
                Approval.decision.is_not(None),
            )
        )
        assert list(decided) == []
        used = session.scalars(select(DecisionCode).where(DecisionCode.used_at.is_not(None)))
        assert list(used) == []
    assert count(url, OutboxMessage, OutboxMessage.kind == EmailKind.PARENT_LETTER) == 0
