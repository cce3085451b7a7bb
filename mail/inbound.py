"""An incoming email as the reply receiver needs it: who sent it, whether a machine did, and
what the person wrote.

Pure: bytes in, a `Received` out, no database and no network. Mail a program sent by
itself (out-of-office answers, bounces, list mail, our own mail coming back) is recognised
by the headers RFC 3834 and common practice give it, so it is never answered.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import EmailMessage, MIMEPart
from email.parser import BytesParser
from email.policy import default as default_policy
from email.utils import getaddresses

from mail.reply_text import ReplyWords, html_text, read_reply

MACHINE_SENDERS = frozenset({"mailer-daemon"})
BULK = frozenset({"bulk", "junk", "list"})
_COMMENT = re.compile(r"\([^()]*\)")


@dataclass(frozen=True)
class Received:
    """One incoming message, read."""

    message_id: str
    senders: tuple[str, ...]  # the addresses in From, lower-cased
    automatic: str  # why a program sent it; "" for a person's message
    authenticated: bool  # our mail server found From's domain passed DMARC
    words: ReplyWords


def parse(data: bytes) -> EmailMessage:
    message = BytesParser(policy=default_policy).parsebytes(data)
    assert isinstance(message, EmailMessage)  # guaranteed by policy.default
    return message


def header(message: EmailMessage, name: str) -> str:
    """A header's value as text, "" when it is missing or cannot be decoded."""
    try:
        value = message.get(name)
    except (ValueError, IndexError, TypeError):  # a header too broken to parse
        return ""
    return "" if value is None else str(value).strip()


def senders_of(message: EmailMessage) -> tuple[str, ...]:
    """Every address in From (a forged message may carry several)."""
    raw = [str(value) for value in message.get_all("From", [])]
    return tuple(address.lower() for _, address in getaddresses(raw) if "@" in address)


def local_part(address: str) -> str:
    return address.strip().strip("<>").rpartition("@")[0].lower()


def automatic(message: EmailMessage, return_path: str, loop_marker: str) -> str:
    """Why a program, not a person, sent this message; "" when nothing says so."""
    paths = [return_path, header(message, "Return-Path")]
    if not return_path.strip("<> ") or any(local_part(p) in MACHINE_SENDERS for p in paths):
        return "empty or mailer-daemon return path"
    submitted = header(message, "Auto-Submitted").split(";")[0].strip().lower()
    if submitted and submitted != "no":
        return f"Auto-Submitted: {submitted}"
    if header(message, "Precedence").lower() in BULK:
        return "bulk or list precedence"
    for name in ("X-Autoreply", "X-Autorespond", "List-Id"):
        if header(message, name):
            return f"{name} header"
    if any(loop_marker in str(value).lower() for value in message.get_all("X-Loop", [])):
        return "our own X-Loop marker"
    if message.get_content_type() == "multipart/report":
        return "a delivery report"
    if loop_marker in senders_of(message):
        return "sent from our own address"
    return ""


def dmarc_passed(message: EmailMessage, authserv_id: str, domain: str) -> bool:
    """Whether our mail server (`authserv_id`) recorded a DMARC pass for From's `domain`.

    Only an Authentication-Results header our own server wrote counts (RFC 8601: it
    removes any that arrive claiming its name); without one, nothing is proved.
    """
    if not authserv_id or not domain:
        return False
    for value in message.get_all("Authentication-Results", []):
        parts = [part.strip() for part in _COMMENT.sub("", str(value)).split(";")]
        if not parts[0].split() or parts[0].split()[0].lower() != authserv_id.lower():
            continue
        for result in parts[1:]:
            fields = dict(re.findall(r"([\w.]+)\s*=\s*([^\s]+)", result.lower()))
            if fields.get("dmarc") == "pass" and fields.get("header.from") == domain.lower():
                return True
    return False


def part_text(part: MIMEPart | None) -> str:
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, ValueError):  # an unknown or broken charset
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    return content if isinstance(content, str) else ""


def reply_text(message: EmailMessage) -> str:
    """The reply's text: its plain part, or the words of an HTML-only reply."""
    plain = part_text(message.get_body(preferencelist=("plain",)))
    if plain.strip():
        return plain
    return html_text(part_text(message.get_body(preferencelist=("html",))))


def read(data: bytes, return_path: str, loop_marker: str, authserv_id: str = "") -> Received:
    """Read one incoming message; `return_path` is the SMTP envelope's MAIL FROM."""
    message = parse(data)
    senders = senders_of(message)
    domain = senders[0].rpartition("@")[2] if len(senders) == 1 else ""
    why = automatic(message, return_path, loop_marker.lower())
    return Received(
        message_id=header(message, "Message-ID")[:200],
        senders=senders,
        automatic=why,
        authenticated=dmarc_passed(message, authserv_id, domain),
        words=ReplyWords("") if why else read_reply(reply_text(message)),
    )
