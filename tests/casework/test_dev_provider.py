"""`make run` in dev mode: a local OpenID Connect provider whose accounts are the people."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from casework.run import dev_issuer, dev_provider_command
from core.settings import Settings, get_settings
from mail.catcher import free_port
from tests.support import oidc_provider


def test_a_person_signs_in_through_the_local_provider(
    configured: Settings, client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CASEWORK_DEV_OIDC_PORT", str(free_port()))
    get_settings.cache_clear()
    settings = get_settings()
    argv = dev_provider_command(settings)
    assert argv.count("--user-claims") >= 10, "every demo person is an account"
    with oidc_provider(argv, dev_issuer(settings), tmp_path / "oidc.log") as issuer:
        page = client.get("/signin")
        assert "Sign in with Local test accounts" in page.text
        start = client.get("/oidc/start/1?next=/", follow_redirects=False)
        assert start.status_code == 303 and start.headers["location"].startswith(issuer)
        with httpx.Client(timeout=10) as idp:
            form = idp.get(start.headers["location"])
            assert "amy.fletcher@oakfield.example" in form.text, "offered as a ready account"
            back = idp.post(
                start.headers["location"],
                data={"sub": "amy.fletcher@oakfield.example"},
                follow_redirects=False,
            )
        assert back.status_code == 302, back.text
        done = client.get(back.headers["location"])
        assert done.status_code == 200 and "Amy Fletcher" in done.text
        assert "Report an incident" in done.text
