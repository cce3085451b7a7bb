"""The reply receiver: an SMTP server on loopback that takes replies to requests' emails.

In production the reply domain's MX (the school's or trust's mail server, or a relay in
front of Casework) hands every message for `reply-...@<reply domain>` to this server;
`make run` starts it. Each message is read (`mail.inbound`) and handled in one transaction
(`services.replies`). A decision it stores wakes the worker, whose hand-off gives it to the
waiting flow run, exactly as for a decision made on the web: this process never calls
Prefect (nor imports it).

SMTP itself says what happened: a recipient that is not a reply address is refused at
RCPT (550), and a database that cannot answer is a temporary failure (451), so the sending
server keeps the message and tries again later: no reply is lost.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from core.settings import Settings, get_settings
from db.session import DatabaseUnavailable, transaction
from mail.inbound import Received, read
from mail.message import loop_marker
from services.replies import Handled, IncomingReply, handle_reply
from services.reply_addresses import target_of

log = logging.getLogger("casework.replies")

MAX_MESSAGE_BYTES = 10 * 1024 * 1024  # a reply with a photo or two; bigger is refused (552)


def incoming(received: Received, recipient: str) -> IncomingReply:
    """What the service needs of a message read for one of its reply addresses."""
    return IncomingReply(
        recipient=recipient,
        sender=received.senders[0] if len(received.senders) == 1 else "",
        verb=received.words.verb,
        reason=received.words.reason,
        first_line=received.words.first_line,
        authenticated=received.authenticated,
        message_id=received.message_id,
    )


def receive(return_path: str, recipients: list[str], data: bytes) -> None:
    """Handle one message for each reply address it was sent to."""
    settings = get_settings()
    received = read(data, return_path, loop_marker(settings.mail_from), settings.reply_authserv_id)
    if received.automatic:
        log.info("ignored a message from a program (%s)", received.automatic)
        return
    for recipient in recipients:
        with transaction() as session:
            handled: Handled = handle_reply(session, incoming(received, recipient))
        log.info("reply to %s: %s", recipient.split("@")[0][:14], handled.note)


class ReplyHandler:
    """aiosmtpd handler: only reply addresses are taken; each message is handled on a thread."""

    def __init__(self, work: Callable[[str, list[str], bytes], None] = receive) -> None:
        self.work = work

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if target_of(address) is None:
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content or envelope.content or b""
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        try:
            await asyncio.to_thread(
                self.work, envelope.mail_from or "", list(envelope.rcpt_tos), data
            )
        except DatabaseUnavailable:
            log.warning("database unavailable: the sender will try again later")
            return "451 4.3.0 Casework cannot take replies just now; try again later"
        except Exception:
            log.exception("a reply could not be handled")
            return "451 4.3.0 Casework could not handle this message; try again later"
        return "250 Message accepted"


def start_receiver(settings: Settings, host: str, port: int) -> Controller:
    """Start the SMTP server in its own thread; the caller must call `.stop()` on the result."""
    controller = Controller(
        ReplyHandler(),
        hostname=host,
        port=port,
        server_hostname=settings.reply_domain or "localhost",
        ready_timeout=10,
        data_size_limit=MAX_MESSAGE_BYTES,
    )
    controller.start()
    return controller


def serve_forever() -> None:
    """Run the receiver until SIGINT or SIGTERM, then stop it cleanly."""
    settings = get_settings()
    if not settings.reply_domain:
        raise SystemExit("Set CASEWORK_REPLY_DOMAIN to receive replies.")
    if not settings.dev_mode and not settings.reply_authserv_id:
        log.warning(
            "CASEWORK_REPLY_AUTHSERV_ID is not set: replies that need a confirmation code "
            "(approving the letter to parents, referring to the police) will be refused"
        )
    stopping = threading.Event()

    def request_stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, request_stop)
    controller = start_receiver(settings, settings.inbound_host, settings.inbound_port)
    print(
        f"replies: SMTP on {settings.inbound_host}:{settings.inbound_port} "
        f"for addresses @{settings.reply_domain}",
        flush=True,
    )
    try:
        while not stopping.wait(0.5):  # a timed wait lets the signal handler run promptly
            pass
    finally:
        controller.stop()
