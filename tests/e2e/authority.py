"""Casework as a local authority would run it: every part twice, on PostgreSQL.

A Prefect server (`casework prefect-server`) and Casework both on PostgreSQL, in databases
of their own made for the test and dropped after it; two runners (flow-run executors), two
workers (outbox sender + reconciler) and two web processes; the mail catcher, in this
process, as the SMTP server. Every process is started through a Lifeline, so none outlives
the test however it ends. tests/e2e/test_local_authority.py drives it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import IO, Any

from sqlalchemy import create_engine, text

from casework.run import Lifeline, prefect_env, wait_http
from core.settings import Settings
from mail.catcher import MailStore, free_port, start_catcher
from tests.stack import TEST_PACE, deployments_ready
from tests.support import drop_pg_database, wait_until

CASEWORK = [sys.executable, "-m", "casework.cli"]
# Each sender keeps this many SMTP connections open (the setting's default); the most
# messages SMTP itself can deliver twice when a sender dies mid-letter.
SMTP_CONNECTIONS = 4


def create_database(admin_url: str, name: str) -> str:
    """A new, empty PostgreSQL database next to the admin one; returns its URL."""
    engine = create_engine(
        admin_url.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


class Authority:
    """The whole system, each part twice; `start`, then `stop` (which drops the databases)."""

    def __init__(self, root: Path, admin_url: str, parents: int, tuning: dict[str, str]) -> None:
        self.root = root
        self.admin_url = admin_url
        self.parents = parents
        self.tuning = tuning
        tag = os.getpid()
        self.db_url = ""
        self.prefect_db_url = ""
        self.names = (f"chaos_casework_{tag}", f"chaos_prefect_{tag}")
        self.prefect_api = f"http://127.0.0.1:{free_port()}/api"
        self.web_ports = (free_port(), free_port())
        self.smtp_port = free_port()
        self.base_url = f"http://127.0.0.1:{self.web_ports[0]}"
        self.web_urls = [f"http://127.0.0.1:{port}" for port in self.web_ports]
        self.mail = MailStore(root / "caught")
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.lifeline = Lifeline()
        self._catcher: Any = None

    # --- the processes ---------------------------------------------------------------

    def env(self, **extra: str) -> dict[str, str]:
        values = {
            "CASEWORK_DATABASE_URL": self.db_url,
            "CASEWORK_VAR_DIR": str(self.root / "var"),  # one machine: evidence files shared
            "CASEWORK_BASE_URL": self.base_url,
            "CASEWORK_SMTP_PORT": str(self.smtp_port),
            "CASEWORK_SMTP_CONNECTIONS": str(SMTP_CONNECTIONS),
            "CASEWORK_PREFECT_API_URL": self.prefect_api,
            **TEST_PACE,
            **self.tuning,
            **extra,
        }
        settings = Settings(prefect_api_url=self.prefect_api, var_dir=self.root / "prefect")
        return {**os.environ, **prefect_env(settings), **values, "PYTHONUNBUFFERED": "1"}

    def spawn(self, name: str, argv: list[str], **extra: str) -> subprocess.Popen[bytes]:
        log: IO[bytes]
        with open(self.root / f"{name}.log", "ab") as log:
            self.procs[name] = self.lifeline.spawn(argv, self.env(**extra), log)
        return self.procs[name]

    def start_prefect(self) -> subprocess.Popen[bytes]:
        """Prefect's server on its own PostgreSQL database, as production starts it."""
        return self.spawn(
            "prefect",
            [*CASEWORK, "prefect-server"],
            CASEWORK_VAR_DIR=str(self.root / "prefect"),
            CASEWORK_PREFECT_DATABASE_URL=self.prefect_db_url,
        )

    def start_web(self, n: int) -> None:
        self.spawn(f"web-{n}", [*CASEWORK, "web"], CASEWORK_WEB_PORT=str(self.web_ports[n]))

    def start_worker(self, name: str) -> None:
        """An outbox sender and reconciler, named so a restart recovers its own rows."""
        self.spawn(name, [*CASEWORK, "worker"], CASEWORK_SENDER_NAME=name)

    def start_runner(self, name: str) -> None:
        self.spawn(name, [*CASEWORK, "runner"])

    def start(self) -> None:
        from casework.demo import seed_demo
        from db.migrate import upgrade
        from db.session import dispose_engine, transaction

        self.db_url = create_database(self.admin_url, self.names[0])
        self.prefect_db_url = create_database(self.admin_url, self.names[1])
        self.lifeline.start()
        # Prefect migrates its new database as it starts (the slowest part): meanwhile,
        # ours is migrated and seeded and the other processes start.
        prefect = self.start_prefect()
        upgrade(self.db_url)
        with transaction(self.db_url) as session:
            seed_demo(session, parents=self.parents)
        dispose_engine(self.db_url)
        self._catcher = start_catcher(self.mail, "127.0.0.1", self.smtp_port)
        for n in (0, 1):
            self.start_web(n)
        for name in ("worker-a", "worker-b"):
            self.start_worker(name)
        wait_http(self.prefect_api + "/health", 120, prefect)
        for name in ("runner-a", "runner-b"):
            self.start_runner(name)
        for n, url in enumerate(self.web_urls):
            wait_http(url + "/healthz", 60, self.procs[f"web-{n}"])
        wait_until(self.deployments_ready, 90, 0.5, "the runners' deployments")

    def deployments_ready(self) -> bool:
        return deployments_ready(self.prefect_api)

    def kill(self, name: str) -> None:
        """SIGKILL the process and everything in its group (a runner's flow runs too), as a
        machine that loses power would: nobody gets to say anything."""
        proc = self.procs.pop(name)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()

    def flow_run_processes(self, runner: str) -> list[int]:
        """The flow runs a runner is executing now: children of its warm fork server."""
        pid = self.procs[runner].pid
        servers = [p for p in _children(pid) if b"forkserver" in _cmdline(p)]
        return [child for server in servers for child in _children(server)]

    def cpu_seconds(self) -> str:
        """CPU each process has used so far (with its children that have ended), for the
        test's report of where the time went."""
        used = []
        for name, proc in sorted(self.procs.items()):
            try:
                fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            ticks = sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
            used.append(f"{name} {ticks / os.sysconf('SC_CLK_TCK'):.0f}")
        return "CPU seconds: " + ", ".join(used)

    def stop(self) -> None:
        """End every process (no need to let them finish their work: the test is over),
        then drop both databases."""
        from db.session import dispose_engine

        self.lifeline.close()
        for proc in self.procs.values():  # ended by the lifeline: collect their exit
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)
        self.procs.clear()
        if self._catcher is not None:
            self._catcher.stop()
        for url in (self.db_url, self.prefect_db_url):
            if url:
                dispose_engine(url)
                drop_pg_database(self.admin_url, url)

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}"
            for p in sorted(self.root.glob("*.log"))
        )


def _children(pid: int) -> list[int]:
    """The processes whose parent is `pid`."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue  # gone while we looked
        if parent == pid:
            found.append(int(stat.parent.name))
    return found


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""
