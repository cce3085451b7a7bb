"""The outbox sender against a real SMTP server on loopback."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from core.settings import Settings, get_settings
from core.templating import RenderedEmail
from db.models import OutboxMessage, OutboxStatus, utcnow
from db.outbox import queue_email
from db.session import transaction
from mail.catcher import CatcherHandler, MailStore, free_port
from mail.sender import deliver_due
from tests.support import audit_kinds, make_case


def queue(url: str, to: str, key: str, case_id: int | None = None) -> int:
    email = RenderedEmail(subject=f"Test {key}", text=f"Hello {key}", html=f"<p>Hello {key}</p>")
    with transaction(url) as session:
        return queue_email(
            session, dedup_key=key, to=to, email=email, kind="test", case_id=case_id
        ).id


def row(url: str, row_id: int) -> OutboxMessage:
    with transaction(url) as session:
        found = session.get(OutboxMessage, row_id)
        assert found is not None
        session.expunge(found)
        return found


def send(settings: Settings | None = None) -> int:
    return asyncio.run(deliver_due(settings or get_settings()))


def make_due(url: str) -> None:
    """Skip the backoff wait, as time passing would."""
    with transaction(url) as session:
        for message in session.query(OutboxMessage).filter_by(status=OutboxStatus.PENDING):
            message.next_attempt_at = utcnow()


def test_each_row_is_one_message_to_one_recipient(
    configured: Settings, smtp: tuple[MailStore, int]
) -> None:
    url = configured.database_url
    case_id = make_case(url)
    ids = [queue(url, f"parent{n}@families.example", f"k{n}", case_id) for n in range(3)]
    assert queue(url, "parent0@families.example", "k0", case_id) == ids[0], "dedup key"
    assert send() == 3
    mails = smtp[0].all()
    assert sorted(m.rcpt_tos[0] for m in mails) == [f"parent{n}@families.example" for n in range(3)]
    assert all(len(m.rcpt_tos) == 1 for m in mails)
    assert {m.message_id for m in mails} == {row(url, i).message_id for i in ids}
    assert all(m.text.strip().startswith("Hello") and "<p>Hello" in m.html for m in mails)
    assert all(row(url, i).status == OutboxStatus.SENT for i in ids)
    assert audit_kinds(url, case_id).count("email.sent") == 3
    assert send() == 0, "nothing is sent twice"


def test_lines_starting_with_a_dot_arrive_intact(
    configured: Settings, smtp: tuple[MailStore, int]
) -> None:
    """A lone "." line ends a message in SMTP: the sender must double leading dots."""
    text = "Before\n.\n.starts with a dot\nAfter the dots\n"
    email = RenderedEmail(subject="Dots", text=text, html="<p>x</p>\n.<p>dot first</p>")
    with transaction(configured.database_url) as session:
        queue_email(session, dedup_key="dots", to="p@families.example", email=email, kind="test")
    assert send() == 1
    (mail,) = smtp[0].all()
    assert mail.text.replace("\r\n", "\n") == text
    assert ".<p>dot first</p>" in mail.html


def test_mail_waits_while_the_server_is_down_then_goes_once(
    configured: Settings, smtp: tuple[MailStore, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = configured.database_url
    row_id = queue(url, "head@oakfield.example", "down-then-up")
    monkeypatch.setenv("CASEWORK_SMTP_PORT", str(free_port()))  # nothing listens there
    get_settings.cache_clear()
    for _ in range(12):  # more than outbox_max_attempts: an outage never fails mail
        assert send() == 0
        make_due(url)
    waiting = row(url, row_id)
    assert waiting.status == OutboxStatus.PENDING and waiting.attempts == 12
    assert "refused" in waiting.last_error.lower() or "connect" in waiting.last_error.lower()
    monkeypatch.setenv("CASEWORK_SMTP_PORT", str(smtp[1]))
    get_settings.cache_clear()
    assert send() == 1
    assert [m.message_id for m in smtp[0].all()] == [waiting.message_id]


class FussyHandler(CatcherHandler):
    """Refuses some recipients for good (550) and defers the first DATA (451)."""

    def __init__(self, store: MailStore) -> None:
        super().__init__(store)
        self.deferred = False

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address.startswith("gone"):
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if not self.deferred:
            self.deferred = True
            return "451 4.3.0 Try again later"
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def fussy_server(
    configured: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[MailStore]:
    store = MailStore(tmp_path / "fussy")
    port = free_port()
    controller = Controller(
        FussyHandler(store),
        hostname="127.0.0.1",
        port=port,
        server_hostname="localhost",
        ready_timeout=10,
    )
    controller.start()
    monkeypatch.setenv("CASEWORK_SMTP_PORT", str(port))
    get_settings.cache_clear()
    yield store
    controller.stop()


def test_451_is_retried_and_550_is_failed_with_the_answer(
    configured: Settings, fussy_server: MailStore
) -> None:
    url = configured.database_url
    case_id = make_case(url)
    deferred = queue(url, "parent@families.example", "deferred", case_id)
    gone = queue(url, "gone@families.example", "gone", case_id)
    send()
    assert row(url, deferred).status == OutboxStatus.PENDING
    assert "451" in row(url, deferred).last_error
    failed = row(url, gone)
    assert failed.status == OutboxStatus.FAILED and "550" in failed.last_error
    make_due(url)
    assert send() == 1
    assert row(url, deferred).status == OutboxStatus.SENT
    assert [m.rcpt_tos for m in fussy_server.all()] == [["parent@families.example"]]
    assert "email.failed" in audit_kinds(url, case_id)


def test_an_address_with_a_display_name_reaches_the_bare_mailbox(
    configured: Settings, smtp: tuple[MailStore, int]
) -> None:
    """Plain addresses skip aiosmtplib's parser; any other still goes through it."""
    url = configured.database_url
    queue(url, '"Parent, A." <a.parent+letters@families.example>', "named")
    queue(url, "plain@families.example", "plain")
    assert send() == 2
    assert sorted(m.rcpt_tos[0] for m in smtp[0].all()) == [
        "a.parent+letters@families.example",
        "plain@families.example",
    ]


class NoSenderHandler(CatcherHandler):
    """Refuses the envelope sender, as a provider does for an unverified From address."""

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, mail_options: list[str]
    ) -> str:
        return "553 5.7.1 Sender address rejected: not owned by user"


def test_a_refused_sender_fails_the_message_with_the_answer(
    configured: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = MailStore(tmp_path / "no-sender")
    port = free_port()
    controller = Controller(
        NoSenderHandler(store), hostname="127.0.0.1", port=port, ready_timeout=10
    )
    controller.start()
    try:
        monkeypatch.setenv("CASEWORK_SMTP_PORT", str(port))
        get_settings.cache_clear()
        url = configured.database_url
        refused = queue(url, "parent@families.example", "refused-sender")
        assert send() == 0
    finally:
        controller.stop()
    failed = row(url, refused)
    assert failed.status == OutboxStatus.FAILED
    assert "553" in failed.last_error and "not owned" in failed.last_error
    assert store.all() == []
