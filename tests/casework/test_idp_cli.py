"""`casework idp add` and `casework idp list`."""

from __future__ import annotations

import pytest

from casework.cli import main
from core.settings import Settings
from db.identity import client_secret, providers
from db.session import transaction

ADD = [
    "idp",
    "add",
    "--organisation",
    "1",
    "--name",
    "Microsoft",
    "--issuer",
    "https://login.example/tenant/v2.0/",
    "--client-id",
    "app-123",
    "--trust-mfa",
]


def test_a_provider_is_added_with_its_secret_sealed(
    configured: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CASEWORK_IDP_CLIENT_SECRET", "s3cret-value")
    assert main(ADD) == 0
    assert "/oidc/callback" in capsys.readouterr().out
    with transaction(configured.database_url) as session:
        (row,) = providers(session)
        assert row.issuer == "https://login.example/tenant/v2.0" and row.trust_mfa
        assert not row.trust_email, "off unless asked for"
        assert "s3cret-value" not in row.sealed_client_secret
        assert client_secret(row) == "s3cret-value"
    assert main(["idp", "list"]) == 0
    assert "Microsoft" in capsys.readouterr().out


def test_a_missing_secret_or_organisation_is_refused(
    configured: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("CASEWORK_IDP_CLIENT_SECRET", raising=False)
    assert main(ADD) == 2
    assert "CASEWORK_IDP_CLIENT_SECRET" in capsys.readouterr().err
    monkeypatch.setenv("CASEWORK_IDP_CLIENT_SECRET", "x")
    assert main([*ADD[:3], "99", *ADD[4:]]) == 1
    assert "no organisation 99" in capsys.readouterr().err


def test_a_provider_can_be_trusted_for_its_email_addresses(
    configured: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CASEWORK_IDP_CLIENT_SECRET", "s3cret-value")
    assert main([*ADD, "--trust-email"]) == 0
    with transaction(configured.database_url) as session:
        (row,) = providers(session)
        assert row.trust_email
    assert main(["idp", "list"]) == 0
    assert "takes its email addresses as verified" in capsys.readouterr().out
