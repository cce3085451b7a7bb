"""The worker's health and readiness probes, asked over HTTP of the real worker process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import httpx

from core.settings import PROJECT_ROOT, Settings
from db.session import transaction
from mail.catcher import free_port
from tests.support import SQLITE_ONLY, children_running, wait_until


def start_worker(port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "CASEWORK_HEALTH_PORT": str(port)}
    argv = [sys.executable, "-m", "casework.cli", "worker"]
    return subprocess.Popen(argv, cwd=PROJECT_ROOT, env=env, stderr=subprocess.DEVNULL)


def answers(url: str) -> bool:
    try:
        httpx.get(url, timeout=2)
    except httpx.HTTPError:
        return False
    return True


def test_the_worker_says_whether_it_is_alive_and_ready(configured: Settings) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    worker = start_worker(port)
    try:
        wait_until(lambda: answers(base + "/healthz"), timeout=30, what="the worker's probe")
        assert httpx.get(base + "/healthz").json() == {"status": "ok"}
        ready = httpx.get(base + "/readyz")
        assert ready.status_code == 200 and ready.json()["status"] == "ready"
        # A database left behind by a deploy (its schema one version older): not ready.
        with transaction(configured.database_url) as session:
            session.connection().exec_driver_sql("UPDATE alembic_version SET version_num='0001'")
        behind = httpx.get(base + "/readyz")
        assert behind.status_code == 503
        assert "schema" in behind.json()["message"]
        assert httpx.get(base + "/other").status_code == 404
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(20)


@SQLITE_ONLY  # the processes' start, not the database
def test_the_web_app_runs_as_several_processes_behind_one_port(configured: Settings) -> None:
    port = free_port()
    env = {**os.environ, "CASEWORK_WEB_PORT": str(port), "CASEWORK_WEB_WORKERS": "2"}
    argv = [sys.executable, "-m", "casework.cli", "web"]
    web = subprocess.Popen(argv, cwd=PROJECT_ROOT, env=env, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: answers(base + "/readyz"), timeout=60, what="the web app")
        two = lambda: children_running(web.pid, b"spawn_main") == 2  # noqa: E731
        wait_until(two, timeout=30, what="two web processes")
        assert all(httpx.get(base + "/readyz").status_code == 200 for _ in range(6))
    finally:
        web.send_signal(signal.SIGTERM)
        web.wait(20)
