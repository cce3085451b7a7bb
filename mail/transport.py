"""Talking SMTP: connections and mail transactions, one message to one recipient each.

Each message ends as an `Outcome`: sent, refused for now, refused for good, or no answer
at all. Errors that leave no answer from the server (a dropped connection, a timeout)
propagate to the caller, which decides what the connection is still good for.
"""

from __future__ import annotations

import contextlib
import ssl
from dataclasses import dataclass

import aiosmtplib

from core.settings import Settings
from mail.message import PLAIN_ADDRESS, MessageBytes, MessageRow, build_message, is_plain

# Errors after which the connection cannot be trusted with another message.
CONNECTION_ERRORS = (aiosmtplib.SMTPException, OSError, TimeoutError)


@dataclass(frozen=True)
class Outcome:
    """What the server said about one message."""

    sent: bool
    permanent: bool = False
    answer: str = ""
    unreachable: bool = False  # no server answer at all: wait for it, however long


def smtp_client(settings: Settings) -> aiosmtplib.SMTP:
    """A client for the configured server, TLS and login included; not yet connected."""
    tls_context = None
    if settings.smtp_security != "none":
        tls_context = ssl.create_default_context()
        if settings.smtp_ca_file:
            tls_context.load_verify_locations(cafile=settings.smtp_ca_file)
    return aiosmtplib.SMTP(
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        timeout=settings.smtp_timeout_seconds,
        use_tls=settings.smtp_security == "tls",
        start_tls=settings.smtp_security == "starttls",
        tls_context=tls_context,
        username=settings.smtp_username or None,
        password=settings.smtp_password.get_secret_value() or None,
    )


async def open_connection(settings: Settings) -> aiosmtplib.SMTP:
    """Connect (TLS and login as configured) and greet, so the server's extensions are known."""
    smtp = smtp_client(settings)
    await smtp.connect()
    try:
        if smtp.is_ehlo_or_helo_needed:
            try:
                await smtp.ehlo()
            except aiosmtplib.SMTPHeloError:
                await smtp.helo()
    except BaseException:
        smtp.close()
        raise
    return smtp


async def close_quietly(smtp: aiosmtplib.SMTP) -> None:
    """Say QUIT if the server is still there, then drop the connection whatever it says."""
    if smtp.is_connected:
        with contextlib.suppress(Exception):
            await smtp.quit(timeout=2)
    smtp.close()


def answer_of(code: int, text: str) -> Outcome:
    """The outcome of a refusal with this reply code."""
    if code == 421:  # the server is closing the connection: an outage, not an answer
        return Outcome(False, answer=f"{code} {text}", unreachable=True)
    return Outcome(False, permanent=code >= 500, answer=f"{code} {text}")


async def send_one(
    smtp: aiosmtplib.SMTP, row: MessageRow, messages: MessageBytes, sender: str
) -> Outcome:
    """Send over an open connection; errors that leave no server answer propagate."""
    try:
        if row.to_addr.isascii() and sender.isascii():
            eight_bit = smtp.supports_extension("8bitmime")
            answer = await transact(
                smtp, sender, row.to_addr, messages.for_data(row, eight_bit), eight_bit
            )
            return Outcome(True, answer=answer)
        # An internationalised address: let aiosmtplib negotiate SMTPUTF8.
        refused, answer = await smtp.send_message(
            build_message(row, messages.mail_from), sender=sender, recipients=[row.to_addr]
        )
    except aiosmtplib.SMTPRecipientsRefused as exc:
        first = exc.recipients[0] if exc.recipients else None
        return answer_of(first.code, first.message) if first else answer_of(550, str(exc))
    except aiosmtplib.SMTPResponseException as exc:
        return answer_of(exc.code, exc.message)
    except (aiosmtplib.SMTPNotSupported, ValueError) as exc:
        # A header or address this server can never take: retrying cannot help.
        return Outcome(False, permanent=True, answer=f"not sendable: {exc}")
    if refused:  # aiosmtplib returns partly refused recipients rather than raising
        code, text = next(iter(refused.values()))
        return answer_of(code, text)
    return Outcome(True, answer=answer)


async def transact(
    smtp: aiosmtplib.SMTP, sender: str, to: str, data: bytes, eight_bit: bool
) -> str:
    """One mail transaction to one recipient (MAIL, RCPT, DATA); returns the server's answer.

    `data` is the message ready for DATA (see `MessageBytes.for_data`). This is
    aiosmtplib's `sendmail` without the work it repeats for every message: it parses each
    address up to four times, re-scans the whole message to size it and rewrites it for
    transparency. At thousands of messages a second that was over a third of the sender's
    time. A plain address is checked by one pattern instead of the parser; any other goes
    through aiosmtplib.
    """
    options = [f"SIZE={len(data)}"] if smtp.supports_extension("size") else []
    if eight_bit:
        options.append("BODY=8BITMIME")
    from_arg, to_arg = envelope_address(sender), envelope_address(to)
    try:
        if from_arg is None or to_arg is None:
            await smtp.mail(sender, options=options)
            await smtp.rcpt(to)
        else:
            extra = [option.encode("ascii") for option in options]
            answer = await smtp.execute_command(b"MAIL", b"FROM:" + from_arg, *extra)
            if answer.code != 250:
                raise aiosmtplib.SMTPSenderRefused(answer.code, answer.message, sender)
            answer = await smtp.execute_command(b"RCPT", b"TO:" + to_arg)
            if answer.code not in (250, 251):
                raise aiosmtplib.SMTPRecipientRefused(answer.code, answer.message, to)
        return await send_data(smtp, data)
    except aiosmtplib.SMTPResponseException:
        # Leave the connection ready for the next message, as sendmail does.
        with contextlib.suppress(aiosmtplib.SMTPResponseException, ConnectionError):
            await smtp.rset()
        raise


async def send_data(smtp: aiosmtplib.SMTP, data: bytes) -> str:
    """DATA, then the prepared message; returns the server's answer to it."""
    start = await smtp.execute_command(b"DATA")
    if start.code != 354:
        raise aiosmtplib.SMTPDataError(start.code, start.message)
    protocol = smtp.protocol
    if protocol is None:
        raise aiosmtplib.SMTPServerDisconnected("Connection lost")
    # Written and awaited one after the other, as aiosmtplib's own DATA does: the answer
    # cannot arrive before `read_response` is waiting for it, as nothing yields in between.
    try:
        protocol.write(data)
        answer = await protocol.read_response(timeout=smtp.timeout)
    except (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError):
        smtp.close()  # out of step with the server: never reuse this connection
        raise
    if answer.code != 250:
        raise aiosmtplib.SMTPDataError(answer.code, answer.message)
    return answer.message


def envelope_address(address: str) -> bytes | None:
    """`<address>` for a plain address, as aiosmtplib would quote it; None for any other."""
    if is_plain(address, PLAIN_ADDRESS):
        return b"<" + address.encode("ascii") + b">"
    return None


def sender_address(settings: Settings) -> str:
    """The envelope sender: the bare address inside `mail_from`."""
    value = settings.mail_from
    return value[value.find("<") + 1 : value.rfind(">")] if "<" in value else value
