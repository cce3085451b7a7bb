"""Structured logs: a real worker process logging JSON lines that name the case."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from core.settings import PROJECT_ROOT, Settings
from mail.catcher import free_port
from tests.support import SQLITE_ONLY, make_case


@SQLITE_ONLY  # the log's shape, whatever the database
def test_json_lines_name_the_case_they_are_about(configured: Settings) -> None:
    """Prefect is down, so the worker's hand-off cannot start the new case's flow: the
    warning it logs is one JSON object with the case id as a field."""
    case_id = make_case(configured.database_url)
    env = {
        **os.environ,
        "CASEWORK_LOG_FORMAT": "json",
        "CASEWORK_PREFECT_API_URL": f"http://127.0.0.1:{free_port()}/api",  # nothing there
        "CASEWORK_RECONCILE_SECONDS": "0.5",
    }
    argv = [sys.executable, "-m", "casework.cli", "worker"]
    worker = subprocess.Popen(argv, cwd=PROJECT_ROOT, env=env, stderr=subprocess.PIPE, text=True)
    lines: list[dict[str, object]] = []
    deadline = time.monotonic() + 30
    try:
        assert worker.stderr is not None
        while time.monotonic() < deadline and not any(
            line.get("case_id") == case_id for line in lines
        ):
            text = worker.stderr.readline()
            if text.startswith("{"):
                lines.append(json.loads(text))
    finally:
        worker.kill()
        worker.communicate(timeout=10)  # reads what is left and closes the pipe
    about = [line for line in lines if line.get("case_id") == case_id]
    assert about, f"no line named case {case_id}: {lines[:5]}"
    line = about[0]
    assert line["level"] == "WARNING" and "flow not started" in str(line["message"])
    assert line["logger"] == "casework.trigger" and str(line["time"]).endswith("+00:00")
