"""Devmail: a local SMTP server that keeps every message it receives as a JSON file.

`make run` points Casework's SMTP settings at it, the dev-only /dev/mail pages show what it
caught, and the test-suite uses it as a real SMTP server to read the mail Casework sends.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage, MIMEPart
from email.parser import BytesParser
from email.policy import default as default_policy
from functools import cached_property
from pathlib import Path
from types import FrameType
from typing import Any
from uuid import uuid4

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

# Ids are file stems we made ourselves; anything else (dots, slashes) is refused outright so an
# id taken from a URL can never reach outside the store's directory.
_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
_URL_RE = re.compile(r"https?://[^\s<>\"'`\x00-\x1f\x7f]+", re.IGNORECASE)
# Sentence punctuation that so often follows a URL in prose but is almost never part of it.
_TRAILING = ".,;:!?'\"]}>*"


def _decode_raw(data: bytes) -> str:
    """The message as text that round-trips to the exact bytes (see `_encode_raw`)."""
    # surrogateescape keeps stray 8-bit bytes; json.dumps writes them as \udcXX escapes.
    return data.decode("utf-8", "surrogateescape")


def _encode_raw(raw: str) -> bytes:
    try:
        return raw.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        # Not one of our own files (lone surrogates outside \udc80-\udcff): lossy is fine.
        return raw.encode("utf-8", "replace")


def _printable(value: str) -> str:
    """Replace undecodable bytes the email parser leaves in as surrogates."""
    return value.encode("utf-8", "replace").decode("utf-8")


def _trim_url(url: str) -> str:
    """Drop trailing punctuation, keeping a ')' that closes a '(' inside the URL."""
    while url:
        last = url[-1]
        if last in _TRAILING or (last == ")" and url.count(")") > url.count("(")):
            url = url[:-1]
        else:
            break
    return url


def split_urls(text: str) -> list[tuple[str, bool]]:
    """Cut text into (piece, is_url) pieces, in order; joined back they give the text."""
    pieces: list[tuple[str, bool]] = []
    position = 0
    for match in _URL_RE.finditer(text):
        url = _trim_url(match.group())
        if "://" not in url or url.endswith("://"):
            continue
        start, end = match.start(), match.start() + len(url)
        if start > position:
            pieces.append((text[position:start], False))
        pieces.append((url, True))
        position = end
    if position < len(text):
        pieces.append((text[position:], False))
    return pieces


def find_urls(text: str) -> list[str]:
    """The http(s) URLs in text, in order of first appearance, without repeats."""
    return list(dict.fromkeys(piece for piece, is_url in split_urls(text) if is_url))


def _part_text(part: MIMEPart | None) -> str:
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, ValueError):
        # An unknown or broken charset: show something rather than nothing.
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    return _printable(content) if isinstance(content, str) else ""


def _parse(raw: str, headers_only: bool) -> EmailMessage:
    parsed = BytesParser(policy=default_policy).parsebytes(
        _encode_raw(raw), headersonly=headers_only
    )
    assert isinstance(parsed, EmailMessage)  # guaranteed by policy.default
    return parsed


@dataclass(frozen=True)
class StoredMail:
    """One caught message: its SMTP envelope, the raw RFC 5322 text, and parsed views of it."""

    id: str
    received_at: datetime
    mail_from: str
    rcpt_tos: list[str]
    raw: str

    @cached_property
    def message(self) -> EmailMessage:
        return _parse(self.raw, headers_only=False)

    @cached_property
    def headers(self) -> EmailMessage:
        """The header block alone: what the subject, addresses and ids are read from, without
        parsing the body (a letter's PDF) each time a mailbox is searched by subject."""
        return _parse(self.raw, headers_only=True)

    def _header(self, name: str) -> str:
        value = self.headers.get(name)
        return "" if value is None else _printable(str(value)).strip()

    @property
    def subject(self) -> str:
        return self._header("Subject")

    @property
    def to(self) -> str:
        return self._header("To")

    @property
    def from_(self) -> str:
        return self._header("From")

    @property
    def message_id(self) -> str:
        return self._header("Message-ID")

    @property
    def reply_to(self) -> str:
        return self._header("Reply-To")

    @cached_property
    def text(self) -> str:
        """The text/plain body, or "" when there is none."""
        return _part_text(self.message.get_body(preferencelist=("plain",)))

    @cached_property
    def html(self) -> str:
        """The text/html body, or "" when there is none."""
        return _part_text(self.message.get_body(preferencelist=("html",)))

    @property
    def links(self) -> list[str]:
        """http(s) URLs in the text part, in order, without repeats."""
        return find_urls(self.text)


class MailStore:
    """Caught messages, one JSON file each, in a directory shared between processes."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._last_ns = 0
        # Messages already read by `all`, by id. A stored message never changes (each file is
        # written once, whole), and a search polls the same mailbox many times a second: each
        # message is read and parsed once, not on every look.
        self._seen: dict[str, StoredMail] = {}

    def _next_ns(self) -> int:
        """A strictly increasing timestamp, so two saves in one tick still sort by arrival."""
        with self._lock:
            self._last_ns = max(time.time_ns(), self._last_ns + 1)
            return self._last_ns

    def save(self, mail_from: str, rcpt_tos: list[str], data: bytes) -> str:
        """Store one message atomically and return its id."""
        mail_id = f"{self._next_ns():020d}-{uuid4().hex[:8]}"
        record = {
            "id": mail_id,
            "received_at": datetime.now(UTC).isoformat(),
            "mail_from": mail_from,
            "rcpt_tos": list(rcpt_tos),
            "data": _decode_raw(data),
        }
        final = self.directory / f"{mail_id}.json"
        # A dot-name with a .tmp suffix is never listed, so readers see whole files only.
        temporary = self.directory / f".{mail_id}.json.tmp"
        temporary.write_text(json.dumps(record), encoding="ascii")
        os.replace(temporary, final)
        return mail_id

    def ids(self) -> list[str]:
        """Every stored id, oldest first."""
        stems = (path.stem for path in self.directory.glob("*.json"))
        return sorted(stem for stem in stems if _ID_RE.fullmatch(stem))

    def get(self, mail_id: str) -> StoredMail | None:
        """The message with this id, or None if it is unknown or not a valid id."""
        if not _ID_RE.fullmatch(mail_id):
            return None
        try:
            record: dict[str, Any] = json.loads(
                (self.directory / f"{mail_id}.json").read_text(encoding="utf-8")
            )
        except FileNotFoundError:
            return None
        return StoredMail(
            id=mail_id,
            received_at=datetime.fromisoformat(record["received_at"]),
            mail_from=record["mail_from"],
            rcpt_tos=list(record["rcpt_tos"]),
            raw=record["data"],
        )

    def all(self) -> list[StoredMail]:
        """Every stored message, oldest first."""
        # A message cleared between listing and reading is simply skipped.
        found: list[StoredMail] = []
        for mail_id in self.ids():
            mail = self._seen.get(mail_id) or self.get(mail_id)
            if mail is not None:
                self._seen[mail_id] = mail
                found.append(mail)
        return found

    def clear(self) -> None:
        """Delete every stored message."""
        self._seen.clear()
        for path in [*self.directory.glob("*.json"), *self.directory.glob(".*.json.tmp")]:
            path.unlink(missing_ok=True)


class CatcherHandler:
    """aiosmtpd handler that accepts every message and puts it in the store."""

    def __init__(self, store: MailStore) -> None:
        self.store = store

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        # original_content is the message before any SMTPUTF8/decoding changes aiosmtpd makes.
        data = envelope.original_content or envelope.content or b""
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        self.store.save(envelope.mail_from or "", list(envelope.rcpt_tos), data)
        return "250 Message accepted for delivery"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_catcher(store: MailStore, host: str, port: int) -> Controller:
    """Start the SMTP server in its own thread; the caller must call `.stop()` on the result."""
    controller = Controller(
        CatcherHandler(store),
        hostname=host,
        port=port,
        server_hostname="localhost",
        ready_timeout=10,
    )
    controller.start()
    return controller


def serve_forever(store: MailStore, host: str, port: int) -> None:
    """Run the catcher until SIGINT or SIGTERM, then stop it cleanly."""
    stopping = threading.Event()

    def _request_stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, _request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    controller = start_catcher(store, host, port)
    print(f"devmail: SMTP on {host}:{port}, messages kept in {store.directory}", flush=True)
    try:
        # A timed wait so the signal handler gets a chance to run promptly.
        while not stopping.wait(0.5):
            pass
    finally:
        controller.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def wait_for(
    store: MailStore,
    predicate: Callable[[list[StoredMail]], object],
    timeout: float = 30.0,
    interval: float = 0.1,
) -> list[StoredMail]:
    """Poll the store until predicate(mails) is truthy and return the mails."""
    deadline = time.monotonic() + timeout
    while True:
        mails = store.all()
        if predicate(mails):
            return mails
        if time.monotonic() >= deadline:
            subjects = [mail.subject for mail in mails]
            raise TimeoutError(
                f"No matching mail within {timeout:g}s; {len(mails)} received so far, "
                f"with subjects: {subjects!r}"
            )
        time.sleep(interval)
