"""The devmail catcher, driven over real SMTP with aiosmtplib."""

from __future__ import annotations

import json
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import pytest

from mail.catcher import MailStore, find_urls, free_port, start_catcher, wait_for

LINK = "https://casework.example/approve/abc123?step=2"
# Non-ASCII, so the subject travels as an RFC 2047 encoded word and must come back decoded.
SUBJECT = "Approval needed: Zoë O'Brien, case 42"


@pytest.fixture
def store(tmp_path: Path) -> MailStore:
    return MailStore(tmp_path / "devmail")


@pytest.fixture
def smtp_port(store: MailStore) -> Iterator[int]:
    port = free_port()
    controller = start_catcher(store, "127.0.0.1", port)
    try:
        yield port
    finally:
        controller.stop()


def _approval_mail() -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Casework <casework@school.example>"
    message["To"] = "Head Teacher <head@school.example>"
    message["Subject"] = SUBJECT
    message["Message-ID"] = "<case-42-approval@school.example>"
    message.set_content(f"Please review case 42.\n\nApprove: {LINK}.\nAgain: {LINK}\n")
    message.add_alternative(f'<p>Please review <a href="{LINK}">case 42</a>.</p>', subtype="html")
    return message


def _notice_mail() -> EmailMessage:
    message = EmailMessage()
    message["From"] = "casework@school.example"
    message["To"] = "dsl@school.example, deputy@school.example"
    message["Subject"] = "Case closed"
    message.set_content("Case 42 is closed. No links here.\n")
    return message


async def _send(message: EmailMessage, port: int, recipients: list[str] | None = None) -> None:
    await aiosmtplib.send(
        message, hostname="127.0.0.1", port=port, timeout=10, recipients=recipients
    )


async def test_catches_multipart_mail_with_envelope_and_parsed_parts(
    store: MailStore, smtp_port: int
) -> None:
    await _send(_approval_mail(), smtp_port, recipients=["head@school.example"])

    [mail] = wait_for(store, lambda mails: len(mails) == 1, timeout=10)
    assert mail.mail_from == "casework@school.example"
    assert mail.rcpt_tos == ["head@school.example"]
    assert mail.subject == SUBJECT
    assert mail.to == "Head Teacher <head@school.example>"
    assert mail.from_ == "Casework <casework@school.example>"
    assert mail.message_id == "<case-42-approval@school.example>"
    assert "Please review case 42." in mail.text
    assert f'<a href="{LINK}">case 42</a>' in mail.html
    # The trailing full stop is not part of the URL, and the repeat is dropped.
    assert mail.links == [LINK]
    assert mail.received_at.utcoffset() is not None
    assert "Subject:" in mail.raw


async def test_keeps_every_envelope_recipient_and_arrival_order(
    store: MailStore, smtp_port: int
) -> None:
    await _send(_approval_mail(), smtp_port)
    await _send(_notice_mail(), smtp_port)

    mails = wait_for(store, lambda mails: len(mails) == 2, timeout=10)
    assert [mail.subject for mail in mails] == [SUBJECT, "Case closed"]
    assert store.ids() == [mail.id for mail in mails]
    notice = mails[1]
    assert notice.rcpt_tos == ["dsl@school.example", "deputy@school.example"]
    assert notice.html == ""
    assert notice.message_id == ""
    assert notice.links == []
    assert store.get(notice.id) == notice


def test_each_message_is_one_json_file(store: MailStore) -> None:
    mail_id = store.save("a@example.org", ["b@example.org"], b"Subject: hi\r\n\r\nbody\r\n")

    [path] = store.directory.iterdir()
    assert path.name == f"{mail_id}.json"
    record = json.loads(path.read_text())
    assert record["id"] == mail_id
    assert record["mail_from"] == "a@example.org"
    assert record["rcpt_tos"] == ["b@example.org"]
    assert record["data"] == "Subject: hi\r\n\r\nbody\r\n"
    assert record["received_at"].endswith("+00:00")


def test_stray_8bit_bytes_survive_storage(store: MailStore) -> None:
    data = b"Subject: caf\xe9\r\nContent-Type: text/plain; charset=latin-1\r\n\r\ncaf\xe9\r\n"
    mail = store.get(store.save("a@example.org", ["b@example.org"], data))

    assert mail is not None
    assert mail.raw.encode("utf-8", "surrogateescape") == data
    assert mail.text.strip() == "café"
    assert mail.subject  # readable, whatever the parser made of the bad header


def test_get_refuses_ids_that_are_not_plain_stems(store: MailStore, tmp_path: Path) -> None:
    (tmp_path / "x.json").write_text('{"secret": true}')

    assert store.get("../x") is None
    assert store.get("..") is None
    assert store.get("/etc/passwd") is None
    assert store.get("00000000000000000000-deadbeef") is None


def test_clear_removes_everything(store: MailStore) -> None:
    store.save("a@example.org", ["b@example.org"], b"Subject: one\r\n\r\n1\r\n")
    store.save("a@example.org", ["b@example.org"], b"Subject: two\r\n\r\n2\r\n")
    assert len(store.ids()) == 2

    store.clear()

    assert store.ids() == []
    assert store.all() == []


def test_a_mailbox_read_again_shows_what_another_process_stored_and_cleared(
    store: MailStore,
) -> None:
    """The test stacks' mail catcher writes from its own process while a test reads the
    same directory through another store, many times a second."""
    catcher = MailStore(store.directory)
    catcher.save("a@example.org", ["b@example.org"], b"Subject: one\r\n\r\n1\r\n")
    assert [mail.subject for mail in store.all()] == ["one"]

    catcher.save("a@example.org", ["c@example.org"], b"Subject: two\r\n\r\n2\r\n")
    assert [(mail.subject, mail.rcpt_tos) for mail in store.all()] == [
        ("one", ["b@example.org"]),
        ("two", ["c@example.org"]),
    ]

    catcher.clear()
    assert store.all() == []
    catcher.save("a@example.org", ["b@example.org"], b"Subject: three\r\n\r\n3\r\n")
    assert [mail.text.strip() for mail in store.all()] == ["3"]


def test_wait_for_times_out_naming_what_arrived(store: MailStore) -> None:
    store.save("a@example.org", ["b@example.org"], b"Subject: Case closed\r\n\r\nbye\r\n")

    with pytest.raises(TimeoutError, match=r"1 received so far.*'Case closed'"):
        wait_for(store, lambda mails: len(mails) > 1, timeout=0.3, interval=0.05)


@pytest.mark.parametrize(
    ("text", "urls"),
    [
        ("See https://a.example/x.", ["https://a.example/x"]),
        (
            "(https://a.example/y) and http://b.example/",
            ["https://a.example/y", "http://b.example/"],
        ),
        ("https://en.wikipedia.org/wiki/Foo_(bar)!", ["https://en.wikipedia.org/wiki/Foo_(bar)"]),
        ("<https://a.example/z>", ["https://a.example/z"]),
        ("ftp://no.example and https:// alone", []),
    ],
)
def test_find_urls(text: str, urls: list[str]) -> None:
    assert find_urls(text) == urls
