"""The sender over STARTTLS and implicit TLS with a login, against a real aiosmtpd server."""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from core.settings import Settings, get_settings
from core.templating import RenderedEmail
from db.models import OutboxMessage, OutboxStatus
from db.outbox import queue_email
from db.session import transaction
from mail.catcher import free_port
from mail.sender import deliver_due

# The implicit-TLS relay offers AUTH without STARTTLS (it is encrypted from the start).
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

USER, PASSWORD = "office@oakfield.example", "correct horse battery staple"


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "casework test relay")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "relay.crt", directory / "relay.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@dataclass
class Relay:
    """What the relay saw: for each accepted message, whether TLS was on and who logged in."""

    accepted: list[tuple[bool, str, list[str]]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        login = session.auth_data.login.decode() if session.authenticated else ""
        encrypted = server.transport.get_extra_info("ssl_object") is not None
        self.accepted.append((encrypted, login, list(envelope.rcpt_tos)))
        return "250 OK"


def check_login(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False, auth_data=data if ok else None)


@pytest.fixture(params=["starttls", "tls"])
def relay(
    request: pytest.FixtureRequest,
    configured: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Relay]:
    """A relay that demands TLS and a login, in the mode under test; the sender set to match."""
    cert_file, key_file = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    handler = Relay()
    port = free_port()
    if request.param == "starttls":
        tls: dict[str, Any] = {"tls_context": context, "require_starttls": True}
    else:
        # aiosmtpd only counts STARTTLS as TLS when deciding to offer AUTH; this
        # connection is encrypted from its first byte.
        tls = {"ssl_context": context, "auth_require_tls": False}
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        ready_timeout=10,
        authenticator=check_login,
        auth_required=True,
        **tls,
    )
    controller.start()
    env = {
        "CASEWORK_SMTP_PORT": str(port),
        "CASEWORK_SMTP_SECURITY": request.param,
        "CASEWORK_SMTP_CA_FILE": str(cert_file),
        "CASEWORK_SMTP_USERNAME": USER,
        "CASEWORK_SMTP_PASSWORD": PASSWORD,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        yield handler
    finally:
        controller.stop()


def queue(key: str) -> int:
    email = RenderedEmail(subject="Sign in", text="Your link.", html="<p>Your link.</p>")
    with transaction() as session:
        row = queue_email(
            session, dedup_key=key, to="head@oakfield.example", email=email, kind="test"
        )
        return row.id


def outbox_row(row_id: int) -> OutboxMessage:
    with transaction() as session:
        row = session.get(OutboxMessage, row_id)
        assert row is not None
        session.expunge(row)
        return row


def test_mail_goes_encrypted_and_logged_in(relay: Relay) -> None:
    row_id = queue("tls-ok")
    assert asyncio.run(deliver_due(get_settings())) == 1
    assert relay.accepted == [(True, USER, ["head@oakfield.example"])]
    assert outbox_row(row_id).status == OutboxStatus.SENT


def test_a_wrong_password_keeps_the_mail_waiting_with_the_reason(
    relay: Relay, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CASEWORK_SMTP_PASSWORD", "wrong")
    get_settings.cache_clear()
    row_id = queue("tls-wrong-password")
    assert asyncio.run(deliver_due(get_settings())) == 0
    waiting = outbox_row(row_id)
    assert relay.accepted == []
    assert waiting.status == OutboxStatus.PENDING
    assert "535" in waiting.last_error or "auth" in waiting.last_error.lower()


def test_an_untrusted_certificate_is_refused(relay: Relay, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the relay's CA the sender will not talk to it: no password goes to a stranger."""
    monkeypatch.setenv("CASEWORK_SMTP_CA_FILE", "")
    get_settings.cache_clear()
    row_id = queue("tls-untrusted")
    assert asyncio.run(deliver_due(get_settings())) == 0
    assert relay.accepted == []
    waiting = outbox_row(row_id)
    assert waiting.status == OutboxStatus.PENDING
    assert "certificate" in waiting.last_error.lower()
