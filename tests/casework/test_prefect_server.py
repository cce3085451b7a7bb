"""`casework prefect-server`: Prefect's server for production, on PostgreSQL when set.

The end-to-end test tests/e2e/test_local_authority.py starts it for real on PostgreSQL.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from casework.cli import main
from casework.run import UNUSED_PREFECT_SERVICES, prefect_database_url
from core.settings import get_settings


def become_server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **env: str) -> dict[str, str]:
    """Run the command with `env` set, catching the exec; returns the server's environment,
    its command line and how far it lowered its CPU priority."""
    monkeypatch.setenv("CASEWORK_VAR_DIR", str(tmp_path))
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    seen: dict[str, object] = {}

    def execve(path: str, argv: Sequence[str], environ: Mapping[str, str]) -> None:
        seen.update(path=path, argv=list(argv), env=dict(environ))

    niceness: list[int] = []
    monkeypatch.setattr("os.execve", execve)
    monkeypatch.setattr("os.nice", niceness.append)  # not this test process's own priority
    try:
        assert main(["prefect-server"]) == 0
    finally:
        get_settings.cache_clear()
    assert seen["path"] == sys.executable
    argv = seen["argv"]
    assert isinstance(argv, list)
    assert argv[1:5] == ["-m", "flows.prefect_server", "server", "start"]
    env_seen = seen["env"]
    assert isinstance(env_seen, dict)
    return {**env_seen, "argv": " ".join(argv), "lowered by": ",".join(map(str, niceness))}


def test_it_serves_on_postgresql_where_the_settings_say(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env = become_server(
        monkeypatch,
        tmp_path,
        CASEWORK_PREFECT_DATABASE_URL="postgresql://prefect:secret@db.internal/prefect",
        CASEWORK_PREFECT_HOST="0.0.0.0",
        CASEWORK_PREFECT_API_URL="http://prefect.internal:4300/api",
    )
    assert env["PREFECT_API_DATABASE_CONNECTION_URL"] == (
        "postgresql+asyncpg://prefect:secret@db.internal/prefect"
    )
    assert env["argv"].endswith("--host 0.0.0.0 --port 4300")
    assert env["PREFECT_HOME"] == str(tmp_path / "prefect")


def test_without_a_database_url_prefect_keeps_its_own_or_the_one_given_to_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("CASEWORK_PREFECT_DATABASE_URL", raising=False)
    monkeypatch.delenv("PREFECT_API_DATABASE_CONNECTION_URL", raising=False)
    env = become_server(monkeypatch, tmp_path)
    assert "PREFECT_API_DATABASE_CONNECTION_URL" not in env, "Prefect's SQLite in var/prefect"
    assert env["argv"].endswith("--host 127.0.0.1 --port 4200")

    own = "postgresql+asyncpg://p@h/own"
    env = become_server(monkeypatch, tmp_path, PREFECT_API_DATABASE_CONNECTION_URL=own)
    assert env["PREFECT_API_DATABASE_CONNECTION_URL"] == own


def test_database_urls_are_given_prefects_driver() -> None:
    assert prefect_database_url("postgresql://u@h/d") == "postgresql+asyncpg://u@h/d"
    assert prefect_database_url("postgresql+psycopg://u@h/d") == "postgresql+asyncpg://u@h/d"
    assert prefect_database_url("postgresql+asyncpg://u@h/d") == "postgresql+asyncpg://u@h/d"


def test_a_heartbeat_shorter_than_prefects_floor_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from core.settings import Settings

    monkeypatch.setenv("CASEWORK_FLOW_HEARTBEAT_SECONDS", "10")
    with pytest.raises(ValueError, match="at least 30"):
        Settings()


def test_it_steps_aside_for_people_s_requests(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """On a machine it shares with the web app, the server's CPU priority can be lowered."""
    assert become_server(monkeypatch, tmp_path)["lowered by"] == "", "kept as it is by default"
    lowered = become_server(monkeypatch, tmp_path, CASEWORK_BACKGROUND_NICENESS="10")
    assert lowered["lowered by"] == "10"


def test_the_services_casework_does_not_use_are_off_unless_the_operator_wants_them(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for service in UNUSED_PREFECT_SERVICES:
        monkeypatch.delenv(f"PREFECT_SERVER_SERVICES_{service}_ENABLED", raising=False)
    env = become_server(monkeypatch, tmp_path)
    assert env["PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_ENABLED"] == "false"
    assert env["PREFECT_SERVER_SERVICES_TRIGGERS_ENABLED"] == "false"
    assert "PREFECT_SERVER_SERVICES_EVENT_PERSISTER_ENABLED" not in env, "heartbeats are read"

    wanted = "PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_ENABLED"
    env = become_server(monkeypatch, tmp_path, **{wanted: "true"})
    assert env[wanted] == "true"
