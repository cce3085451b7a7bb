"""Answering a request by replying to its email: real SMTP into the real receiver on loopback,
a real database on each backend, and Casework's answers through the real outbox sender."""

from __future__ import annotations

import smtplib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from casework.reconciler import send_reminders
from casework.replies import start_receiver
from core.enums import StepKey
from core.settings import Settings, get_settings
from db.cases import close_case
from db.models import Approval, AuditEvent, Case, IncidentType, OutboxMessage, Person
from db.session import transaction
from forms.people import SchoolForm
from mail.catcher import MailStore, StoredMail, free_port
from services.people import create_school, disable
from services.replies import MOST_ANSWERS
from services.requests import ask
from tests.casework.test_reminders import hours_pass
from tests.support import audit_kinds, count, link_in, mail_to, make_case

HEAD = "head@oakfield.example"
DSL = "dsl@oakfield.example"


@pytest.fixture
def receiver(configured: Settings) -> Iterator[int]:
    """The reply receiver on a loopback port of its own; yields the port."""
    port = free_port()
    controller = start_receiver(get_settings(), "127.0.0.1", port)
    try:
        yield port
    finally:
        controller.stop()


@dataclass
class Request:
    """A request waiting on the headteacher, its email delivered to the mail catcher."""

    url: str
    case_id: int
    mail: MailStore
    port: int
    deliver: Callable[[], int]
    email: StoredMail

    @property
    def reply_to(self) -> str:
        return str(self.email.message["Reply-To"])

    def reply(self, body: str, sender: str = HEAD, to: str = "", **headers: str) -> None:
        """Reply from `sender`'s mail program: the body above the quoted original."""
        quoted = "\n".join(f"> {line}" for line in self.email.text.splitlines())
        message = EmailMessage()
        message["From"] = f"Someone <{sender}>"
        message["To"] = to or self.reply_to
        message["Subject"] = f"Re: {self.email.subject}"
        message["Message-ID"] = f"<{len(self.mail.ids())}.{hash(body)}@phone.example>"
        for name, value in headers.items():
            message[name.replace("_", "-")] = value
        message.set_content(f"{body}\n\nOn Mon, 7 Dec 2026, Casework wrote:\n{quoted}\n")
        self.send(message, sender)

    def send(self, message: EmailMessage, return_path: str) -> None:
        with smtplib.SMTP("127.0.0.1", self.port) as server:
            server.send_message(message, from_addr=return_path, to_addrs=[str(message["To"])])

    def answer(self, to: str = HEAD, subject: str = "Case ") -> StoredMail:
        """The answer Casework sends to a reply, once the outbox has gone out."""
        since = len(self.mail.ids())
        self.deliver()
        return mail_to(self.mail, to, subject, timeout=5, since=since)

    def approval(self) -> Approval:
        with transaction(self.url) as session:
            row = session.scalars(select(Approval).where(Approval.case_id == self.case_id)).one()
            session.expunge(row)
            return row

    def answers_queued(self) -> int:
        return count(self.url, OutboxMessage, OutboxMessage.kind == "reply_answer")


def request(
    configured: Settings,
    smtp: tuple[MailStore, int],
    deliver: Callable[[], int],
    port: int,
    kind: IncidentType = IncidentType.PUPIL_CONTACT,
    step: StepKey = StepKey.APPROVE_PARENT_LETTER,
) -> Request:
    url = configured.database_url
    case_id = make_case(url, kind)
    with transaction(url) as session:
        case = session.get(Case, case_id)
        assert case is not None
        ask(session, case, step)
    deliver()
    email = mail_to(smtp[0], HEAD, "your decision", timeout=5)
    return Request(url, case_id, smtp[0], port, deliver, email)


@pytest.fixture
def letter(
    configured: Settings, smtp: tuple[MailStore, int], deliver: Callable[[], int], receiver: int
) -> Request:
    """The letter to every parent, waiting on the headteacher's decision."""
    return request(configured, smtp, deliver, receiver)


def test_a_reply_saying_approved_records_the_decision_like_the_link(
    letter: Request, client: TestClient
) -> None:
    assert letter.reply_to.startswith("reply-") and letter.reply_to.endswith("@replies.localhost")
    assert "the word APPROVE to approve" in letter.email.text
    shown = client.get(f"/dev/mail/{letter.email.id}").text
    assert f"<dt>Reply-To</dt><dd><code>{letter.reply_to}</code>" in shown, "to try it in dev"
    letter.reply("Approved, thanks!\n\nSent from my iPhone")

    approval = letter.approval()
    assert approval.decision == "approved" and approval.reason == ""
    assert approval.decided_user_agent.startswith("Email reply <")
    with transaction(letter.url) as session:
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.kind == "approval.decided")
        ).one()
        head = session.get(Person, event.actor_id)
        assert head is not None and head.email == HEAD
        assert event.data["decision"] == "approved" and event.data["step"] == approval.step_key
    assert audit_kinds(letter.url, letter.case_id, skip=("email.",))[-2:] == [
        "approval.decided",
        "step.completed",
    ]
    answer = letter.answer()
    assert "is recorded" in answer.text and "Approve: send this letter" in answer.text
    assert answer.message["Reply-To"] is None, "nothing more can be answered"
    assert client.get(link_in(letter.email, "/approvals/")).status_code == 410, "the link died"


def test_an_html_only_reply_rejecting_with_a_reason_is_recorded(letter: Request) -> None:
    message = EmailMessage()
    message["From"] = HEAD.upper()
    message["To"] = letter.reply_to
    message["Subject"] = "RE: your decision"
    message.set_content(
        "<div dir='ltr'><b>Reject</b> – we wrote to parents about this last month.</div>"
        "<hr><div id='divRplyFwdMsg'><b>From:</b> Casework<br><b>Sent:</b> Monday</div>"
        "<div>Approve: send this letter to every parent</div>",
        subtype="html",
    )
    letter.send(message, HEAD)

    approval = letter.approval()
    assert approval.decision == "rejected"
    assert approval.reason == "we wrote to parents about this last month."
    assert "Reason: we wrote to parents" in letter.answer().text


def test_a_reply_that_is_not_an_answer_changes_nothing_and_says_what_to_write(
    letter: Request,
) -> None:
    letter.reply("Approve, but change the second paragraph first")
    assert letter.approval().decision is None
    answer = letter.answer()
    assert "has not been recorded" in answer.text and "could not tell what you meant" in answer.text
    assert '"Approve, but change the second paragraph first"' in answer.text
    assert "the single word APPROVE" in answer.text
    assert answer.message["Reply-To"] == letter.reply_to, "replying to the answer works too"

    letter.reply("Reject")
    assert "a rejection needs a reason" in letter.answer().text
    for n in range(3):  # a mail robot that answers every message it gets
        letter.reply(f"I am away until Monday ({n}).")
    assert letter.answers_queued() == MOST_ANSWERS, "a few answers an hour, then silence"
    assert letter.approval().decision is None
    assert "approval.decided" not in audit_kinds(letter.url, letter.case_id)


def test_a_reply_from_another_address_is_refused_and_stores_nothing(letter: Request) -> None:
    letter.reply("APPROVE", sender="office@oakfield.example")

    assert letter.approval().decision is None
    assert count(letter.url, OutboxMessage, OutboxMessage.kind == "parent_letter") == 0
    assert "reply.refused" in audit_kinds(letter.url, letter.case_id)
    told = letter.answer("office@oakfield.example", "not recorded")
    assert "Only the person the email was sent to" in told.text
    with transaction(letter.url) as session:
        reference = session.get(Case, letter.case_id).reference  # type: ignore[union-attr]
    assert reference not in told.raw, "someone else learns nothing about the case"


def test_a_recipient_that_is_not_a_reply_address_is_refused_or_ignored(letter: Request) -> None:
    with smtplib.SMTP("127.0.0.1", letter.port) as server:
        server.ehlo()
        server.mail(HEAD)
        assert server.rcpt("head@oakfield.example")[0] == 550
    guessed = letter.reply_to.replace("reply-", "reply-9", 1)  # another request's number
    letter.reply("APPROVE", to=guessed)
    local, domain = letter.reply_to.split("@")
    forged = local[:-1] + ("0" if local[-1] != "0" else "1")  # the right number, a wrong tag
    letter.reply("APPROVE", to=f"{forged}@{domain}", sender="office@oakfield.example")
    assert letter.approval().decision is None and letter.answers_queued() == 0


def test_mail_sent_by_programs_is_ignored_silently(letter: Request) -> None:
    """(Every header that marks machine mail is in tests/mail/test_reply_text.py.)"""
    letter.reply("APPROVE", Auto_Submitted="auto-replied")
    letter.reply("APPROVE", X_Loop="casework@school.example")
    bounce = EmailMessage()
    bounce["From"] = HEAD
    bounce["To"] = letter.reply_to
    bounce["Subject"] = "Undeliverable"
    bounce.set_content("APPROVE")
    letter.send(bounce, "")
    assert letter.approval().decision is None
    assert letter.answers_queued() == 0


def test_renewed_and_used_addresses_record_nothing_and_say_so_once(letter: Request) -> None:
    old_address = letter.reply_to
    hours_pass(letter.url, letter.case_id, 25)
    assert send_reminders() == 1
    letter.deliver()
    reminder = mail_to(letter.mail, HEAD, "Reminder: Case", timeout=5)
    assert reminder.message["Reply-To"] not in (None, old_address)

    letter.reply("APPROVE")  # to the first email's address
    assert letter.approval().decision is None
    replaced = letter.answer()
    assert "only a reply to the newest email counts" in replaced.text
    assert replaced.message["Reply-To"] == reminder.message["Reply-To"]

    letter.email = reminder
    letter.reply("Reject: a letter went out last month")
    assert letter.approval().decision == "rejected"
    letter.answer()
    letter.reply("APPROVE")
    assert "was already answered" in letter.answer().text
    letter.reply("APPROVE")
    letter.deliver()
    assert letter.answers_queued() == 3, "already decided is said once"
    assert letter.approval().decision == "rejected"


def test_a_reply_about_a_closed_case_changes_nothing(letter: Request) -> None:
    with transaction(letter.url) as session:
        case = session.get(Case, letter.case_id)
        assert case is not None
        close_case(session, case, "Resolved in school.")
    letter.reply("APPROVE")
    assert letter.approval().decision is None
    assert "no longer needs your answer" in letter.answer(subject="no answer needed").text


def person_id(url: str, email: str) -> int:
    with transaction(url) as session:
        return session.scalars(select(Person.id).where(Person.email == email)).one()


def test_a_reply_from_an_approver_since_disabled_changes_nothing(letter: Request) -> None:
    """Nobody else can take the letter (the deputy and the chair have gone too), so it stays
    with the head who left, and her replies still answer nothing."""
    with transaction(letter.url) as session:
        for email in ("deputy@oakfield.example", "chair@oakfield.example", HEAD):
            gone = session.scalars(select(Person).where(Person.email == email)).one()
            disable(session, gone, None, "Left the school")
    assert letter.approval().approver_id == person_id(letter.url, HEAD), "kept, not passed on"
    letter.reply("APPROVE")
    letter.reply("Reject: we wrote to parents last month")

    assert letter.approval().decision is None
    kinds = audit_kinds(letter.url, letter.case_id)
    assert "approval.decided" not in kinds and "step.completed" not in kinds
    assert kinds.count("reply.refused") == 2, "each attempt is on the case record"
    assert count(letter.url, OutboxMessage, OutboxMessage.kind == "parent_letter") == 0
    told = letter.answer(subject="not recorded")
    assert "no longer active" in told.text and "waits for someone else" in told.text
    with transaction(letter.url) as session:
        reference = session.get(Case, letter.case_id).reference  # type: ignore[union-attr]
    assert reference not in told.raw, "someone who has left learns nothing more of the case"
    assert told.message["Reply-To"] is None


def test_a_reply_from_an_approver_who_may_no_longer_see_the_case_changes_nothing(
    letter: Request,
) -> None:
    """A head moved to another school's staff (here straight in the database, so that only
    the rule for answering stands guard) answers nothing by reply, and learns nothing."""
    with transaction(letter.url) as session:
        head = session.scalars(select(Person).where(Person.email == HEAD)).one()
        other = create_school(session, None, SchoolForm(name="Elmbridge Academy"), None)
        head.school_id = other.id
    letter.reply("APPROVE")

    assert letter.approval().decision is None
    kinds = audit_kinds(letter.url, letter.case_id)
    assert "approval.decided" not in kinds and kinds.count("reply.refused") == 1
    told = letter.answer(subject="not recorded")
    assert "no longer yours to answer" in told.text and "no longer active" not in told.text
    with transaction(letter.url) as session:
        reference = session.get(Case, letter.case_id).reference  # type: ignore[union-attr]
    assert reference not in told.raw and "parents" not in told.text.lower()


def test_a_step_that_needs_more_than_a_word_invites_no_reply(
    configured: Settings, smtp: tuple[MailStore, int], deliver: Callable[[], int], receiver: int
) -> None:
    police = request(
        configured, smtp, deliver, receiver, IncidentType.ONLINE_ABUSE, StepKey.POLICE_DECISION
    )
    assert police.email.message["Reply-To"] is None
    assert "APPROVE" not in police.email.text


def test_outside_dev_mode_approving_the_letter_needs_our_mail_server_to_vouch_for_the_sender(
    letter: Request, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CASEWORK_REPLY_AUTHSERV_ID", "mx.oakfield.example")
    get_settings.cache_clear()
    letter.reply("APPROVE")
    assert letter.approval().decision is None
    assert "your mail server did not confirm" in letter.answer().text
    assert "reply.refused" in audit_kinds(letter.url, letter.case_id)

    letter.reply(
        "APPROVE",
        Authentication_Results="mx.oakfield.example; spf=pass smtp.mailfrom=oakfield.example;"
        " dkim=pass header.d=oakfield.example; dmarc=pass (p=reject) header.from=oakfield.example",
    )
    assert letter.approval().decision == "approved"
