"""The whole system for end-to-end tests: the same processes `make run` starts.

A real Prefect server, the runner, the worker (outbox sender + reconciler), the web app
and the reply receiver each run as their own process; the SMTP server is the mail catcher
on loopback. One
Prefect server serves every stack of a test session, one stack at a time.

Every process is started through a Lifeline (casework/run.py), so none outlives the test
process, however that ends.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from importlib.metadata import version
from pathlib import Path
from typing import IO, Any

import httpx

from casework.run import (
    Lifeline,
    prefect_env,
    prefect_server_command,
    prefect_server_env,
    wait_http,
)
from core.settings import PROJECT_ROOT, Settings
from mail.catcher import MailStore, free_port, start_catcher
from tests.support import children_running, wait_until

# Kept between sessions, like .pytest_cache; `make clean` removes it with the rest of var/.
CACHE = PROJECT_ROOT / "var" / "test-cache"


def migrated_prefect_db() -> Path:
    """A Prefect database with every migration applied, made once per Prefect version.

    A new server spends over half its start-up migrating an empty database; one that
    finds its schema up to date skips that.
    """
    CACHE.mkdir(parents=True, exist_ok=True)
    # The version from the package's metadata: importing Prefect takes over a second, and
    # every pytest process (the xdist workers, the tests' own inner runs) imports this module.
    made = CACHE / f"prefect-{version('prefect')}.db"
    with open(CACHE / "prefect.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # xdist workers may both get here first
        if not made.exists():
            home = CACHE / f"prefect-{os.getpid()}"
            env = {**os.environ, "PREFECT_HOME": str(home)}
            upgrade = [sys.executable, "-m", "prefect", "server", "database", "upgrade", "-y"]
            subprocess.run(upgrade, env=env, check=True, capture_output=True)
            copy_sqlite(home / "prefect.db", CACHE / "prefect.db.new")
            os.replace(CACHE / "prefect.db.new", made)
            shutil.rmtree(home)
    return made


def prepare_prefect_home(home: Path) -> None:
    """Give a Prefect server that will use `home` an up-to-date database to start from."""
    home.mkdir(parents=True, exist_ok=True)
    copy_sqlite(migrated_prefect_db(), home / "prefect.db")


def copy_sqlite(source: Path, target: Path) -> None:
    """Copy a database into one file, with whatever is still in its write-ahead log."""
    with closing(sqlite3.connect(source)) as old, closing(sqlite3.connect(target)) as new:
        old.backup(new)


def deployments_ready(prefect_api: str) -> bool:
    """Whether the Prefect server knows every incident type's deployment (a runner has
    registered them)."""
    from flows.deployments import FLOWS

    for slug in FLOWS:
        try:
            answer = httpx.get(f"{prefect_api}/deployments/name/{slug}/{slug}", timeout=5)
        except httpx.HTTPError:
            return False
        if answer.status_code != 200:
            return False
    return True


# What every install the tests start sets besides its places.
TEST_PACE = {
    "CASEWORK_DEV_MODE": "true",
    # A test's people answer within a second: poll often, or each answer waits its turn.
    "CASEWORK_RECONCILE_SECONDS": "0.5",
    "CASEWORK_RUNNER_POLL_SECONDS": "0.5",
    # Every test of the session signs in from 127.0.0.1, often as the same people.
    "CASEWORK_RATE_SIGNIN_PER_ADDRESS": "1000/15minute",
    "CASEWORK_RATE_SIGNIN_PER_IP": "1000/15minute",
    "CASEWORK_RATE_CODES_PER_PERSON": "1000/5minute",
    "CASEWORK_RATE_CODES_PER_IP": "1000/5minute",
    "CASEWORK_RATE_LINKS_PER_IP": "100000/minute",
    # The tests beside it on the other core are not people waiting: flows keep their share.
    "CASEWORK_BACKGROUND_NICENESS": "0",
}


class PrefectServer:
    """A Prefect server of its own, in `root`, for the stacks of one test session."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.api = f"http://127.0.0.1:{free_port()}/api"
        self.lifeline = Lifeline()
        self.proc: subprocess.Popen[bytes] | None = None

    def settings(self) -> Settings:
        return Settings(prefect_api_url=self.api, var_dir=self.root)

    def start(self) -> None:
        """Start the server; `wait` for it to answer."""
        self.lifeline.start()
        prepare_prefect_home(self.settings().prefect_home)
        env = {**os.environ, **prefect_server_env(self.settings())}
        with open(self.root / "prefect.log", "ab") as log:
            self.proc = self.lifeline.spawn(prefect_server_command(self.settings()), env, log)

    def wait(self) -> None:
        wait_http(self.api + "/health", 120, self.proc)

    def forget_everything(self) -> None:
        """Delete every flow, and with them their deployments and runs, so the next stack
        starts afresh: its case ids, and so its runs' idempotency keys, repeat the last one's."""
        with httpx.Client(base_url=self.api, timeout=30) as prefect:

            def ask(method: str, path: str, **kwargs: Any) -> Any:
                # Prefect's own SQLite answers 503 while it is busy: ask again, a few times.
                for attempt in range(6):
                    answer = prefect.request(method, path, **kwargs)
                    if answer.status_code != 503:
                        break
                    time.sleep(0.5 * (attempt + 1))
                answer.raise_for_status()
                return answer.json() if answer.content else None

            while flows := ask("POST", "/flows/filter", json={"limit": 50}):
                for flow in flows:
                    ask("DELETE", f"/flows/{flow['id']}")
            runs = ask("POST", "/flow_runs/count", json={})
        assert runs == 0, f"{runs} flow runs outlived their flows"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.lifeline.close()


class Stack:
    def __init__(self, root: Path, db_url: str, prefect: PrefectServer) -> None:
        self.root = root
        self.db_url = db_url
        self.prefect = prefect
        self.web_port, self.smtp_port, self.replies_port = free_port(), free_port(), free_port()
        self.base_url = f"http://127.0.0.1:{self.web_port}"
        self.prefect_api = prefect.api
        self.mail = MailStore(root / "var" / "devmail")
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.lifeline = Lifeline()
        self._catcher: Any = None

    def env(self) -> dict[str, str]:
        values = {
            "CASEWORK_DATABASE_URL": self.db_url,
            "CASEWORK_VAR_DIR": str(self.root / "var"),
            "CASEWORK_BASE_URL": self.base_url,
            "CASEWORK_WEB_PORT": str(self.web_port),
            "CASEWORK_SMTP_PORT": str(self.smtp_port),
            "CASEWORK_INBOUND_PORT": str(self.replies_port),
            "CASEWORK_PREFECT_API_URL": self.prefect_api,
            **TEST_PACE,
        }
        settings = Settings(prefect_api_url=self.prefect_api, var_dir=self.root / "var")
        return {**os.environ, **values, **prefect_env(settings), "PYTHONUNBUFFERED": "1"}

    def start(self) -> None:
        from casework.demo import seed_demo
        from db.migrate import upgrade
        from db.session import transaction

        self.lifeline.start()
        self.spawn("web", [sys.executable, "-m", "casework.cli", "web"])
        self.spawn("replies", [sys.executable, "-m", "casework.cli", "replies"])
        upgrade(self.db_url)
        with transaction(self.db_url) as session:
            seed_demo(session)
        self._catcher = start_catcher(self.mail, "127.0.0.1", self.smtp_port)
        self.start_worker()
        self.prefect.wait()
        self.start_runner()
        wait_http(self.base_url + "/healthz", 60, self.procs["web"])
        wait_until(self.replies_ready, 30, 0.2, "the reply receiver")

    def replies_ready(self) -> bool:
        try:
            socket.create_connection(("127.0.0.1", self.replies_port), timeout=1).close()
        except OSError:
            return False
        return True

    def spawn(self, name: str, argv: list[str]) -> None:
        log: IO[bytes]
        with open(self.root / f"{name}.log", "ab") as log:
            self.procs[name] = self.lifeline.spawn(argv, self.env(), log)

    def start_runner(self) -> None:
        self.spawn("runner", [sys.executable, "-m", "casework.cli", "runner"])
        wait_until(self.deployments_ready, 90, 0.5, "the runner's deployments")

    def deployments_ready(self) -> bool:
        return deployments_ready(self.prefect_api)

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
        for name in ("runner", "web", "worker", "replies"):
            self.terminate(name)
        # Flow runs live in sessions of their own: the lifeline ends any still running.
        self.lifeline.close()
        if self._catcher is not None:
            self._catcher.stop()
        self.prefect.forget_everything()

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=30)

    def flow_run_state(self, flow_run_id: str) -> str:
        answer = httpx.get(f"{self.prefect_api}/flow_runs/{flow_run_id}", timeout=10)
        answer.raise_for_status()
        return str(answer.json()["state"]["type"])

    def wait_for_state(self, flow_run_id: str, state: str, timeout: float = 60) -> None:
        """Wait until the flow run is in `state`; on timeout say what it was, with the logs."""
        deadline = time.monotonic() + timeout
        seen = ""
        while time.monotonic() < deadline:
            seen = self.flow_run_state(flow_run_id)
            if seen == state:
                return
            time.sleep(0.5)
        raise TimeoutError(
            f"flow run {flow_run_id} still {seen} after {timeout:.0f}s, not {state}\n{self.logs()}"
        )

    def warm_process(self) -> bool:
        """Whether the runner has a fork server that has already imported the flows
        (flows/warm_start.py): it exists once a flow run has been started from it."""
        return children_running(self.procs["runner"].pid, b"multiprocessing.forkserver") > 0

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-4000:]}"
            for p in sorted(self.root.glob("*.log"))
        )
