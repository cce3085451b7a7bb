"""Wire bytes: an outbox row as the RFC 5322 text that goes after SMTP's DATA.

`build_message` is the email package's own rendering and the reference; `MessageBytes`
writes the same bytes much faster for the plain headers nearly all our mail has, and
builds a letter's body once rather than once per parent.
"""

from __future__ import annotations

import email.policy
import io
import re
from datetime import datetime
from email.generator import BytesGenerator
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Protocol

# Long subjects are kept on one header line (up to RFC 5322's 998 characters): folding
# right after "Subject:" leaves some clients showing a leading space.
HEADER_POLICY = email.policy.SMTP.clone(max_line_length=998)
SEVEN_BIT_POLICY = HEADER_POLICY.clone(cte_type="7bit")
AUTO_SUBMITTED = b"Auto-Submitted: auto-generated\r\n"
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_DOMAIN = r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
PLAIN_ADDRESS = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@{_DOMAIN}")
PLAIN_MESSAGE_ID = re.compile(rf"<{_ATOM}(?:\.{_ATOM})*@{_DOMAIN}>")
PLAIN_MAX = 900  # well inside one 998-character header line

_LINE_ENDS = re.compile(rb"\r\n|\r|\n")
_DOT_LINE_STARTS = re.compile(rb"(?m)^\.")


class MessageRow(Protocol):
    """What a message is built from: an outbox row, claimed or not."""

    @property
    def to_addr(self) -> str: ...
    @property
    def subject(self) -> str: ...
    @property
    def text_body(self) -> str: ...
    @property
    def html_body(self) -> str: ...
    @property
    def message_id(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def reply_to(self) -> str: ...


def loop_marker(sender: str) -> str:
    """Our own X-Loop value: mail that comes back carrying it is ours, and is never answered."""
    return parseaddr(sender)[1].lower() or "casework"


def build_message(row: MessageRow, sender: str) -> EmailMessage:
    """The message as the email package builds it, with `sender` in From."""
    msg = EmailMessage(policy=HEADER_POLICY)
    msg["From"] = sender
    msg["To"] = row.to_addr
    if row.reply_to:
        msg["Reply-To"] = row.reply_to
    msg["Subject"] = row.subject
    msg["Date"] = format_datetime(row.created_at)
    msg["Message-ID"] = row.message_id
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Loop"] = loop_marker(sender)
    msg.set_content(row.text_body)
    msg.add_alternative(row.html_body, subtype="html")
    return msg


def flatten(msg: EmailMessage, eight_bit: bool) -> bytes:
    """The message as it goes on the wire (8bit bodies only when the server takes them)."""
    out = io.BytesIO()
    BytesGenerator(out, policy=HEADER_POLICY if eight_bit else SEVEN_BIT_POLICY).flatten(msg)
    return out.getvalue()


def header_line(name: str, value: str) -> bytes:
    """One header exactly as the email package writes it: encoded words, no CR/LF injection."""
    name, parsed = HEADER_POLICY.header_store_parse(name, value)
    return HEADER_POLICY.fold_binary(name, parsed)


def is_plain(value: str, plain: re.Pattern[str]) -> bool:
    """True for a short value matching `plain`: one that needs no parsing, quoting or folding."""
    return len(value) < PLAIN_MAX and plain.fullmatch(value) is not None


def plain_or_folded(name: str, value: str, plain: re.Pattern[str]) -> bytes:
    """One header line; `header_line`'s output, written directly when the value is plain."""
    # Parsing an address header costs far more than sending the message: skip it for the
    # plain values that make up nearly all our mail, where its output would be the same.
    if is_plain(value, plain):
        return f"{name}: {value}\r\n".encode("ascii")
    return header_line(name, value)


def mime_body(text: str, html: str, eight_bit: bool) -> bytes:
    """MIME-Version, Content-Type and the multipart/alternative body."""
    msg = EmailMessage(policy=HEADER_POLICY)
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    return flatten(msg, eight_bit)


def data_ready(part: bytes) -> bytes:
    """Whole lines of a message as DATA carries them: CRLF endings, leading dots doubled.

    This is the transparency aiosmtplib applies to every message it sends (RFC 5321
    4.5.2); done here once per letter body rather than once per parent.
    """
    part = _LINE_ENDS.sub(b"\r\n", part)
    if not part.endswith(b"\r\n"):
        part += b"\r\n"
    return _DOT_LINE_STARTS.sub(b"..", part)


class MessageBytes:
    """Renders rows as wire bytes, building each distinct body (a letter's) only once."""

    def __init__(self, mail_from: str, keep: int = 32) -> None:
        self.mail_from = mail_from
        self._from = header_line("From", mail_from)
        self._marks = AUTO_SUBMITTED + header_line("X-Loop", loop_marker(mail_from))
        self._keep = keep
        self._parts: dict[tuple[str, str, str, bool], tuple[bytes, bytes, bytes]] = {}

    def render(self, row: MessageRow, eight_bit: bool) -> bytes:
        """The message as RFC 5322 text."""
        subject, body, _ = self._shared_parts(row, eight_bit)
        return self._headers(row, subject) + body

    def for_data(self, row: MessageRow, eight_bit: bool) -> bytes:
        """The message as written after DATA's 354, ending with the lone-dot line."""
        subject, _, stuffed_body = self._shared_parts(row, eight_bit)
        return data_ready(self._headers(row, subject)) + stuffed_body + b".\r\n"

    def _headers(self, row: MessageRow, subject: bytes) -> bytes:
        return b"".join(
            (
                self._from,
                plain_or_folded("To", row.to_addr, PLAIN_ADDRESS),
                plain_or_folded("Reply-To", row.reply_to, PLAIN_ADDRESS) if row.reply_to else b"",
                subject,
                f"Date: {format_datetime(row.created_at)}\r\n".encode("ascii"),
                plain_or_folded("Message-ID", row.message_id, PLAIN_MESSAGE_ID),
                self._marks,
            )
        )

    def _shared_parts(self, row: MessageRow, eight_bit: bool) -> tuple[bytes, bytes, bytes]:
        """The Subject line, the body and the body ready for DATA, built once per letter."""
        key = (row.subject, row.text_body, row.html_body, eight_bit)
        parts = self._parts.get(key)
        if parts is None:
            if len(self._parts) >= self._keep:
                self._parts.clear()
            body = mime_body(row.text_body, row.html_body, eight_bit)
            parts = (header_line("Subject", row.subject), body, data_ready(body))
            self._parts[key] = parts
        return parts
