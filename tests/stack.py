"""The whole system for end-to-end tests: the same processes `make run` starts.

A real Prefect server, the runner, the worker (outbox sender + reconciler) and the web
app each run as their own process; the SMTP server is the mail catcher on loopback.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from casework.cli import prefect_server_command, wait_http
from core.settings import PROJECT_ROOT, Settings
from mail.catcher import MailStore, free_port, start_catcher
from tests.support import wait_until


class Stack:
    def __init__(self, root: Path, db_url: str) -> None:
        self.root = root
        self.db_url = db_url
        self.web_port, self.smtp_port, self.prefect_port = free_port(), free_port(), free_port()
        self.base_url = f"http://127.0.0.1:{self.web_port}"
        self.prefect_api = f"http://127.0.0.1:{self.prefect_port}/api"
        self.mail = MailStore(root / "var" / "devmail")
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._catcher: Any = None

    def env(self) -> dict[str, str]:
        from casework.cli import prefect_env

        values = {
            "CASEWORK_DATABASE_URL": self.db_url,
            "CASEWORK_VAR_DIR": str(self.root / "var"),
            "CASEWORK_BASE_URL": self.base_url,
            "CASEWORK_WEB_PORT": str(self.web_port),
            "CASEWORK_SMTP_PORT": str(self.smtp_port),
            "CASEWORK_PREFECT_API_URL": self.prefect_api,
            "CASEWORK_DEV_MODE": "true",
            "CASEWORK_RECONCILE_SECONDS": "2",
        }
        settings = Settings(**{k.removeprefix("CASEWORK_").lower(): v for k, v in values.items()})
        return {**os.environ, **values, **prefect_env(settings), "PYTHONUNBUFFERED": "1"}

    def start(self) -> None:
        from casework.demo import seed_demo
        from db.migrate import upgrade
        from db.session import transaction

        upgrade(self.db_url)
        with transaction(self.db_url) as session:
            seed_demo(session)
        self._catcher = start_catcher(self.mail, "127.0.0.1", self.smtp_port)
        self.spawn("prefect", prefect_server_command(self.settings()))
        self.spawn("web", [sys.executable, "-m", "casework.cli", "web"])
        self.start_worker()
        wait_http(self.prefect_api + "/health", 120, self.procs["prefect"])
        self.start_runner()
        wait_http(self.base_url + "/healthz", 60, self.procs["web"])

    def settings(self) -> Settings:
        return Settings(
            database_url=self.db_url, prefect_api_url=self.prefect_api, var_dir=self.root / "var"
        )

    def spawn(self, name: str, argv: list[str]) -> None:
        log = open(self.root / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        self.procs[name] = subprocess.Popen(
            argv,
            cwd=PROJECT_ROOT,
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def start_runner(self) -> None:
        self.spawn("runner", [sys.executable, "-m", "casework.cli", "runner"])
        wait_until(self.deployments_ready, 90, 0.5, "the runner's deployments")

    def deployments_ready(self) -> bool:
        from flows.deployments import FLOWS

        for slug in FLOWS:
            try:
                answer = httpx.get(f"{self.prefect_api}/deployments/name/{slug}/{slug}", timeout=5)
            except httpx.HTTPError:
                return False
            if answer.status_code != 200:
                return False
        return True

    def stop_runner(self) -> None:
        self.terminate("runner")

    def stop_worker(self) -> None:
        """Stop the outbox sender and the reconciler."""
        self.terminate("worker")

    def start_worker(self) -> None:
        self.spawn("worker", [sys.executable, "-m", "casework.cli", "worker"])

    def terminate(self, name: str) -> None:
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def stop(self) -> None:
        for name in ("runner", "web", "worker", "prefect"):
            self.terminate(name)
        if self._catcher is not None:
            self._catcher.stop()

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=30)

    def flow_run_state(self, flow_run_id: str) -> str:
        answer = httpx.get(f"{self.prefect_api}/flow_runs/{flow_run_id}", timeout=10)
        answer.raise_for_status()
        return str(answer.json()["state"]["type"])

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-4000:]}"
            for p in sorted(self.root.glob("*.log"))
        )
