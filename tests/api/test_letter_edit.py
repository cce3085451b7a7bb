"""The headteacher changes the letter's wording on the approval page before approving it.

Each test answers the real approval page through the app, with codes from the real SMTP
catcher, then runs the real send step (without Prefect) and reads what parents get.
"""

from __future__ import annotations

import hashlib
import html
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape
from pypdf import PdfReader
from sqlalchemy import select

from core.enums import EmailKind, IncidentType
from core.files import letter_files
from core.settings import Settings
from core.wording import from_html, to_html, to_text
from db.models import Approval, AuditEvent, Case, OutboxMessage
from db.session import transaction
from mail.catcher import MailStore, StoredMail
from services.letters import original_wording, render_parent_letter
from tests.flows.test_letters import BY_POST, DEMO_PARENTS, add_families, print_files, send
from tests.support import (
    SQLITE_ONLY,
    audit_kinds,
    code_in,
    count,
    csrf_of,
    mail_to,
    make_approval,
    make_case,
)

HEAD = "head@oakfield.example"
REPORTER = "amy.fletcher@oakfield.example"  # make_case's reporter
OLD = "We are writing to every family to remind you how the school expects pupils and staff"
NEW = "Over half-term, please look at your child's apps with them & talk about <who> they follow."
WORDING = re.compile(r'<textarea[^>]* id="wording"[^>]*>(.*?)</textarea>', re.S)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def esc(text: str) -> str:
    """`text` as Casework's templates escape it in HTML."""
    return str(escape(text))


@dataclass
class ApprovalPage:
    """The head's approval page for one case's letter, answered through `client`."""

    client: TestClient
    url: str
    case_id: int
    link: str
    mail: MailStore
    deliver: Callable[[], int]
    html: str = ""

    def open(self) -> str:
        self.html = self.client.get(self.link).text
        return self.html

    def wording(self, page: str | None = None) -> str:
        """What the page's wording box holds, as a browser would read it."""
        found = WORDING.search(page or self.html)
        assert found, "the page has no wording box"
        return html.unescape(found.group(1))

    def post(self, **fields: str) -> tuple[int, str]:
        answer = self.client.post(self.link, data={**fields, "csrf_token": csrf_of(self.html)})
        return answer.status_code, answer.text

    def ask_for_code(self, **typed: str) -> tuple[str, str]:
        """Press "Email me a confirmation code" with what is typed; the page and the code."""
        since = len(self.mail.ids())
        status, page = self.post(action="send_code", **typed)
        assert status == 200 and "code is on its way" in page, page
        self.deliver()
        return page, code_in(mail_to(self.mail, HEAD, "confirmation code", since=since))

    def approval(self) -> Approval:
        with transaction(self.url) as session:
            row = session.scalars(select(Approval).where(Approval.case_id == self.case_id)).one()
            session.expunge(row)
            return row

    def events(self, kind: str) -> list[dict[str, Any]]:
        with transaction(self.url) as session:
            return [
                dict(e.data)
                for e in session.scalars(
                    select(AuditEvent).where(
                        AuditEvent.case_id == self.case_id, AuditEvent.kind == kind
                    )
                )
            ]

    def letters(self) -> list[StoredMail]:
        """The letters parents received: sent by the real sender, caught by the SMTP server."""
        self.deliver()
        with transaction(self.url) as session:
            ids = set(
                session.scalars(
                    select(OutboxMessage.message_id).where(
                        OutboxMessage.case_id == self.case_id,
                        OutboxMessage.kind == EmailKind.PARENT_LETTER,
                    )
                )
            )
        return [m for m in self.mail.all() if m.message_id in ids]


@pytest.fixture
def letter(
    client: TestClient,
    configured: Settings,
    smtp: tuple[MailStore, int],
    deliver: Callable[[], int],
) -> ApprovalPage:
    url = configured.database_url
    add_families(url)  # three of them get the letter on paper
    case_id = make_case(url)
    approval = ApprovalPage(
        client, url, case_id, f"/approvals/{make_approval(url, case_id)}", smtp[0], deliver
    )
    approval.open()
    return approval


def test_an_edited_letter_is_what_every_parent_gets_by_email_and_on_paper(
    letter: ApprovalPage, signed_in: Callable[[str], TestClient]
) -> None:
    original = letter.wording()
    assert OLD in original and "\n\n- talking with your child" in original
    edited = original.replace(OLD, NEW).replace("\n", "\r\n")  # as a browser posts it

    # Asking for the code comes back with the edit in the box and in the letter shown.
    page, code = letter.ask_for_code(decision="approved", reason="", wording=edited)
    assert letter.wording(page) == edited
    assert "This is the letter with your changes" in page
    assert esc(esc(NEW)) in page, "in the preview frame's srcdoc, so escaped twice"
    status, done = letter.post(decision="approved", reason="", wording=edited, code=code)
    assert status == 200 and "Your answer is recorded" in done

    expected = edited.replace("\r\n", "\n")
    stored = letter.approval().response
    assert stored["decision"] == "approved" and "wording" not in stored
    assert stored["letter_edit"]["original"] == original
    assert stored["letter_edit"]["approved"] == expected
    [edit_event] = letter.events("letter.edited")
    assert edit_event["original_sha256"] == sha(original)
    assert edit_event["approved_sha256"] == sha(expected)
    assert audit_kinds(letter.url, letter.case_id)[-3:] == [
        "approval.decided",
        "letter.edited",
        "step.completed",
    ]

    assert send(letter.case_id) == DEMO_PARENTS + 1 + len(BY_POST)
    emailed = letter.letters()
    assert len(emailed) == DEMO_PARENTS + 1, "the demo parents and Dev Quartz"
    for mail in emailed:
        assert NEW in mail.text and OLD not in mail.text
        assert esc(NEW) in mail.html and OLD not in mail.html
        assert "<who>" not in mail.html, "the approver's words are never markup"
        assert "<li>talking with your child" in mail.html, "bullet points stay a list"
    [printed] = print_files(letter.url, letter.case_id)
    pages = PdfReader(io.BytesIO(letter_files().path(printed.stored_name).read_bytes())).pages
    assert len(pages) == len(BY_POST)
    for pdf_page in pages:
        text = " ".join(pdf_page.extract_text().split())
        assert "look at your child" in text and "talk about <who> they follow" in text
        assert OLD not in text
    [sent] = letter.events("letter.sent")
    assert sent["approved_wording_sha256"] == sha(expected)

    head = signed_in(HEAD)
    case_page = head.get(f"/cases/{letter.case_id}").text
    assert "changed the letter's wording before approving it" in case_page
    assert esc(NEW) in case_page and "changed the wording of the letter to parents" in case_page
    assert esc("The letter's wording was changed before it was approved.") in case_page
    head.cookies.clear()
    reporter_page = signed_in(REPORTER).get(f"/cases/{letter.case_id}").text
    assert esc(NEW) not in reporter_page, "only those who see the case record see the words"


def test_an_edit_that_names_the_pupil_is_refused_and_the_wording_kept(
    letter: ApprovalPage,
) -> None:
    _, code = letter.ask_for_code()
    careless = letter.wording().replace(OLD, "Jordan contacted a teacher online, so we are")
    status, refused = letter.post(decision="approved", reason="", wording=careless, code=code)
    assert status == 400
    assert "The letter contains the name of the pupil." in refused
    assert "Change the wording below, or reject the letter." in refused
    assert 'href="#wording"' in refused and letter.wording(refused) == careless
    assert "Your wording names someone from the case" in refused

    status, empty = letter.post(decision="approved", reason="", wording=" \r\n ", code=code)
    assert status == 400 and "The letter&#39;s wording is empty" in empty

    assert letter.approval().decision is None
    assert letter.events("letter.edited") == [] and letter.events("approval.decided") == []
    assert count(letter.url, OutboxMessage, OutboxMessage.kind == EmailKind.PARENT_LETTER) == 0
    fixed = careless.replace("Jordan contacted a teacher online, so we are", "We are")
    status, _ = letter.post(decision="approved", reason="", wording=fixed, code=code)
    assert status == 200, "the code was not used up by the refusals"
    assert letter.approval().response["letter_edit"]["approved"].startswith("Dear parent")


def test_approving_the_wording_as_written_sends_the_letter_as_written(
    letter: ApprovalPage,
) -> None:
    _, code = letter.ask_for_code()
    as_shown = letter.wording().replace("\n", "\r\n")
    status, _ = letter.post(decision="approved", reason="", wording=as_shown, code=code)
    assert status == 200
    assert letter.approval().response == {"decision": "approved", "reason": ""}
    assert letter.events("letter.edited") == []

    send(letter.case_id)
    [sent] = letter.events("letter.sent")
    assert "approved_wording_sha256" not in sent
    with transaction(letter.url) as session:
        case = session.get(Case, letter.case_id)
        assert case is not None
        template = render_parent_letter(session, case)
    mail = letter.letters()[0]
    assert mail.subject == template.subject
    assert OLD in mail.text
    body = mail.html.replace("\r\n", "\n").split("Dear parent")[1]
    assert body == template.html.split("Dear parent")[1], "the template's letter, unchanged"


def test_rejecting_needs_no_edit_and_keeps_none(letter: ApprovalPage) -> None:
    careless = letter.wording().replace(OLD, "Jordan Miles wrote to a teacher")
    status, done = letter.post(decision="rejected", reason="Not this term.", wording=careless)
    assert status == 200 and "Your answer is recorded" in done
    approval = letter.approval()
    assert approval.decision == "rejected" and "letter_edit" not in approval.response
    assert letter.events("letter.edited") == []


def test_the_head_edits_the_letter_in_my_work_too(
    letter: ApprovalPage, signed_in: Callable[[str], TestClient]
) -> None:
    """Signed in, the same form (without a code) checks, keeps and sends the edit."""
    head = signed_in(HEAD)
    address = f"/work/{letter.approval().id}"
    form = head.get(address).text
    wording = letter.wording(form)
    careless = wording.replace(OLD, "Jordan Miles contacted a teacher online, so we are")
    answer = {"decision": "approved", "reason": "", "csrf_token": csrf_of(form)}
    refused = head.post(address, data={**answer, "wording": careless})
    assert (
        refused.status_code == 400 and "The letter contains the name of the pupil." in refused.text
    )
    assert letter.wording(refused.text) == careless and letter.approval().decision is None

    done = head.post(address, data={**answer, "wording": wording.replace(OLD, NEW)})
    assert done.status_code == 200 and "Your answer is recorded" in done.text
    assert letter.approval().response["letter_edit"]["approved"] == wording.replace(OLD, NEW)
    send(letter.case_id)
    assert all(NEW in mail.text for mail in letter.letters())


@SQLITE_ONLY  # rendering only
def test_the_wording_as_written_makes_the_same_letter_as_the_template(
    configured: Settings,
) -> None:
    """So an edit changes only the words the approver changed, and nothing around them."""
    url = configured.database_url
    date = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    for kind in (t for t in IncidentType if t != IncidentType.STAFF_CONDUCT):
        case_id = make_case(url, kind)
        with transaction(url) as session:
            case = session.get(Case, case_id)
            assert case is not None
            wording = original_wording(session, case)
            as_written = render_parent_letter(session, case, date=date)
            through_edit = render_parent_letter(session, case, date=date, wording=wording)
        assert through_edit.subject == as_written.subject, kind
        assert through_edit.text == as_written.text, kind
        assert from_html(through_edit.html) == from_html(as_written.html), kind
        assert from_html(to_html(wording)) == wording, kind


def test_the_wording_keeps_paragraphs_line_breaks_bullets_and_headings_and_escapes_all() -> None:
    wording = (
        "# A note <script>alert(1)</script>\r\n\r\n"
        "First line\r\nsecond line & more\r\n\r\n\r\n"
        "- one\r\n- two\r\n"
        "After the list\u200b."
    )
    assert str(to_html(wording)) == (
        '<h2 style="font-size:18px;">A note &lt;script&gt;alert(1)&lt;/script&gt;</h2>\n'
        "<p>First line<br>\nsecond line &amp; more</p>\n"
        "<ul>\n<li>one</li>\n<li>two</li>\n</ul>\n"
        "<p>After the list.</p>"
    )
    assert to_text(wording) == (
        "A note <script>alert(1)</script>\n\n"
        "First line\nsecond line & more\n\n"
        "- one\n- two\n\n"
        "After the list."
    )
