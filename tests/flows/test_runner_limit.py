"""The runner works at most one flow run per core unless told otherwise, so a burst of
reports waits at Prefect's server instead of taking every core from the web app."""

from __future__ import annotations

import os
from typing import Any, ClassVar

import pytest

from core.settings import get_settings
from flows import deployments


class RecordingRunner:
    """Records how the runner was set up; starts nothing (a unit test of serve_all)."""

    made: ClassVar[list[dict[str, Any]]] = []

    def __init__(self, *, limit: int, query_seconds: float, heartbeat_seconds: int) -> None:
        made = {"limit": limit, "query_seconds": query_seconds, "flows": []}
        self.made.append({**made, "heartbeat_seconds": heartbeat_seconds})

    def add_flow(self, flow: object, name: str) -> None:
        self.made[-1]["flows"].append(name)

    async def start(self) -> None:
        return None


@pytest.mark.parametrize(("setting", "limit"), [("", os.cpu_count() or 1), ("3", 3)])
def test_the_runner_works_one_flow_run_per_core_unless_told(
    monkeypatch: pytest.MonkeyPatch, setting: str, limit: int
) -> None:
    monkeypatch.setattr(deployments, "Runner", RecordingRunner)
    monkeypatch.setattr(deployments, "start_runs_from_a_warm_process", lambda: None)
    if setting:
        monkeypatch.setenv("CASEWORK_RUNNER_LIMIT", setting)
    else:
        monkeypatch.delenv("CASEWORK_RUNNER_LIMIT", raising=False)
    get_settings.cache_clear()
    RecordingRunner.made.clear()
    try:
        deployments.serve_all()
    finally:
        get_settings.cache_clear()
    (made,) = RecordingRunner.made
    assert made["limit"] == limit
    assert made["heartbeat_seconds"] == 30, "each run says it is alive, so a dead one is found"
    assert sorted(made["flows"]) == sorted(kind.value for kind in deployments.FLOWS)
