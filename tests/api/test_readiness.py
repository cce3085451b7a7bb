"""The readiness probe: a process behind a load balancer takes work only once its database
answers and has the newest schema; liveness stays a plain 'ok'."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from fastapi.testclient import TestClient

from core.settings import Settings, get_settings
from db.migrate import alembic_config
from mail.catcher import free_port
from tests.support import SQLITE_ONLY


def ready(monkeypatch: pytest.MonkeyPatch, url: str | None = None) -> tuple[int, dict[str, str]]:
    from api.app import create_app

    if url is not None:
        monkeypatch.setenv("CASEWORK_DATABASE_URL", url)
        get_settings.cache_clear()
    with TestClient(create_app()) as client:
        answer = client.get("/readyz")
        assert client.get("/healthz").json() == {"status": "ok"}
    return answer.status_code, answer.json()


def test_a_migrated_database_is_ready(
    configured: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert ready(monkeypatch) == (200, {"status": "ready"})


@SQLITE_ONLY
def test_an_old_schema_or_no_database_is_not_ready(
    configured: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    old = f"sqlite:///{tmp_path / 'old.db'}"
    command.upgrade(alembic_config(old), "0014")
    status, said = ready(monkeypatch, old)
    assert status == 503 and said["status"] == "not ready"
    assert "schema is at 0014" in said["message"] and "run the migrations" in said["message"]

    nowhere = f"postgresql://postgres@127.0.0.1:{free_port()}/casework"
    status, said = ready(monkeypatch, nowhere)
    assert status == 503 and said["message"].startswith("the database does not answer")
