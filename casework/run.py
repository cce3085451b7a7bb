"""The supervisor behind `casework run`: start every process, stop them all, leave none behind.

Every process a supervisor starts carries the supervisor's mark in its environment
(CASEWORK_LIFELINES), and passes it on to whatever it starts in turn, such as the flow-run
processes of the Prefect runner, which live in sessions of their own. A small watchdog
process waits for the supervisor to end, however it ends, and then stops every process that
carries the mark. The test suite's stack uses the same machinery.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO

from core.settings import PROJECT_ROOT, Settings, get_settings

LIFELINES = "CASEWORK_LIFELINES"
PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def prefect_env(settings: Settings) -> dict[str, str]:
    """Environment for every process that talks to (or is) the Prefect server."""
    return {
        "PREFECT_HOME": str(settings.prefect_home),
        "PREFECT_API_URL": settings.prefect_api_url,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": os.environ.get("PREFECT_LOGGING_LEVEL", "WARNING"),
        "PREFECT_SERVER_LOGGING_LEVEL": "WARNING",
        "PREFECT_UI_ENABLED": "true",
    }


def child_env(settings: Settings) -> dict[str, str]:
    return {**os.environ, **prefect_env(settings), "PYTHONUNBUFFERED": "1"}


def wait_http(url: str, seconds: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Poll `url` until it answers 200; fail early if `proc` exits."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{url}: the process exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{url} did not answer within {seconds:.0f} s")


# Services of Prefect's server that Casework has no use for, each of which spends CPU on every
# event or every few seconds: automations (triggers), task runs kept for Prefect's UI (each
# step's progress is in Casework's own database), schedules, late scheduled runs and work
# pools' health (runs are started on demand by served deployments). Measured on the local
# authority's test: the server's CPU fell from 91 s to 55 s. An operator who wants one back
# sets its variable (e.g. PREFECT_SERVER_SERVICES_TASK_RUN_RECORDER_ENABLED=true).
UNUSED_PREFECT_SERVICES = ("TRIGGERS", "TASK_RUN_RECORDER", "SCHEDULER", "LATE_RUNS", "FOREMAN")


def prefect_server_env(settings: Settings) -> dict[str, str]:
    """`prefect_env` for the Prefect server itself: its database when one is set, and the
    services Casework does not use turned off unless the environment says otherwise.

    Only the server is given the database's URL (which may hold a password): the runner,
    the worker and the web app reach Prefect through its API alone.
    """
    env = prefect_env(settings)
    for service in UNUSED_PREFECT_SERVICES:
        name = f"PREFECT_SERVER_SERVICES_{service}_ENABLED"
        env[name] = os.environ.get(name, "false")
    if settings.prefect_database_url:
        env["PREFECT_API_DATABASE_CONNECTION_URL"] = prefect_database_url(
            settings.prefect_database_url
        )
    return env


def prefect_database_url(url: str) -> str:
    """A PostgreSQL URL as Prefect's server wants it: through its asyncpg driver."""
    for plain in ("postgresql://", "postgres://", "postgresql+psycopg://"):
        if url.startswith(plain):
            return "postgresql+asyncpg://" + url.removeprefix(plain)
    return url


def prefect_server_command(settings: Settings) -> list[str]:
    """Prefect's server on `prefect_host`, at the port of Casework's Prefect API URL (through
    flows/prefect_server.py: Prefect's own command, its SQLite writers made to queue)."""
    port = settings.prefect_api_url.rsplit(":", 1)[-1].split("/")[0]
    return [
        sys.executable,
        "-m",
        "flows.prefect_server",
        "server",
        "start",
        "--host",
        settings.prefect_host,
        "--port",
        port,
    ]


# --- Marks: which processes belong to whom -------------------------------------------


def marks_of(pid: int) -> list[str]:
    """The lifeline marks in a process's environment; none if it has gone or is not ours."""
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return []
    prefix = LIFELINES.encode() + b"="
    for entry in environ.split(b"\0"):
        if entry.startswith(prefix):
            return entry[len(prefix) :].decode(errors="replace").split()
    return []


def marked(mark: str) -> list[int]:
    """Every live process (other than this one) that carries `mark`."""
    me = os.getpid()
    pids = (int(name) for name in os.listdir("/proc") if name.isdigit())
    return sorted(pid for pid in pids if pid != me and mark in marks_of(pid))


def describe(pid: int) -> str:
    """`pid` and its command line, for a message about a process left running."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return f"{pid} (gone)"
    return f"{pid} {b' '.join(argv).decode(errors='replace').strip()[:160]}"


def signal_all(pids: Sequence[int], sig: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def reap(mark: str, grace: float = 3.0) -> list[int]:
    """End every process carrying `mark`: SIGTERM, then SIGKILL after `grace` seconds.

    Returns the processes that were still running. Scans again until none is left, since
    a process may start another between one look at /proc and the next.
    """
    found: list[int] = []
    for _ in range(10):
        pids = marked(mark)
        if not pids:
            break
        found.extend(pid for pid in pids if pid not in found)
        signal_all(pids, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while (left := [p for p in pids if mark in marks_of(p)]) and time.monotonic() < deadline:
            time.sleep(0.05)
        signal_all(left, signal.SIGKILL)
        grace = 0.5  # anything found on a later pass has had its chance
    return found


# --- Tying children to their parent ----------------------------------------------------


def _die_with_parent() -> Callable[[], None] | None:
    """A preexec function asking Linux to SIGTERM the child when the parent dies."""
    if not sys.platform.startswith("linux"):
        return None
    # Looked up before fork: the child should do as little as possible before exec.
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        # The parent may have died before prctl ran, in which case no signal will come.
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)

    return preexec


def watch(mark: str) -> int:
    """The watchdog's body: wait for the owner to go, then end everything it started."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the owner handles Ctrl-C, not us
    # The owner holds the only write end of our stdin: EOF means it has closed it or died.
    while sys.stdin.buffer.read(4096):
        pass
    reap(mark)
    return 0


class Lifeline:
    """A mark for every process an owner starts, and a watchdog that outlives the owner.

    Start it before spawning anything; spawn children with `spawn`; `close` when done.
    If the owner is killed before it can close, the watchdog ends the marked processes.
    """

    def __init__(self) -> None:
        self.mark = f"casework-{os.getpid()}-{secrets.token_hex(6)}"
        self.watchdog: subprocess.Popen[bytes] | None = None
        self._line: IO[bytes] | None = None

    def env(self, base: Mapping[str, str]) -> dict[str, str]:
        """`base` with this lifeline's mark added to any marks already in it."""
        marks = base.get(LIFELINES, "").split()
        return {**base, LIFELINES: " ".join([*marks, self.mark])}

    def start(self) -> Lifeline:
        read, write = os.pipe()  # both ends close on exec: no child but the watchdog holds one
        try:
            self.watchdog = subprocess.Popen(
                [sys.executable, "-m", "casework.run", "watch", self.mark],
                stdin=read,
                cwd=PROJECT_ROOT,
                # Its own session keeps a Ctrl-C or a group kill meant for the owner off it.
                start_new_session=True,
            )
        finally:
            os.close(read)
        self._line = os.fdopen(write, "wb")
        return self

    def spawn(
        self,
        argv: Sequence[str],
        env: Mapping[str, str],
        stdout: IO[bytes] | int | None = None,
    ) -> subprocess.Popen[bytes]:
        """Start a marked child in its own session, which dies with this process."""
        if self._line is None:
            raise RuntimeError("start the lifeline before spawning through it")
        return subprocess.Popen(
            list(argv),
            cwd=PROJECT_ROOT,
            env=self.env(env),
            stdout=stdout,
            stderr=subprocess.STDOUT if stdout is not None else None,
            # Own session: Ctrl-C reaches only the owner, which stops children in order.
            start_new_session=True,
            preexec_fn=_die_with_parent(),
        )

    def survivors(self) -> list[int]:
        return marked(self.mark)

    def close(self) -> list[int]:
        """End whatever is still marked, then let the watchdog go; returns what was ended."""
        left = reap(self.mark)
        if self._line is not None:
            self._line.close()
            self._line = None
        if self.watchdog is not None:
            try:
                self.watchdog.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.watchdog.kill()
                self.watchdog.wait()
        return left


@contextlib.contextmanager
def lifeline() -> Iterator[Lifeline]:
    line = Lifeline().start()
    try:
        yield line
    finally:
        line.close()


# --- `casework run` -----------------------------------------------------------------


def stop_all(procs: Sequence[subprocess.Popen[bytes]]) -> None:
    """SIGTERM each process group, newest first; SIGKILL any still there after 15 s."""
    for proc in reversed(procs):
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    for proc in procs:
        try:
            proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def prepare(settings: Settings) -> None:
    """Migrate the database and seed the demo school when it is empty."""
    from casework.demo import seed_demo, seed_demo_history, seed_demo_records
    from db.migrate import upgrade
    from db.session import transaction

    settings.var_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.database_url)
    print("Database is up to date.")
    with transaction() as session:
        school = seed_demo(session)
        if school is not None:
            seed_demo_history(session, school)
            seed_demo_records(session, school)
    print("Seeded the demo school." if school else "A school exists already: nothing seeded.")


def cmd_run(_: argparse.Namespace) -> int:
    """Migrate, seed if empty, start every process, print where things are; Ctrl-C stops all."""
    settings = get_settings()
    prepare(settings)
    stopping = False

    def on_signal(_sig: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    with lifeline() as line:
        procs: list[subprocess.Popen[bytes]] = []
        try:
            return supervise(settings, line, procs, lambda: stopping)
        finally:
            print("Stopping Casework…")
            stop_all(procs)


def supervise(
    settings: Settings,
    line: Lifeline,
    procs: list[subprocess.Popen[bytes]],
    stopping: Callable[[], bool],
) -> int:
    """Start every process into `procs`, then watch them until `stopping()` or one exits."""
    env = child_env(settings)
    me = [sys.executable, "-m", "casework.cli"]

    def start(
        name: str, argv: list[str], own_env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        print(f"  starting {name}")
        procs.append(line.spawn(argv, own_env or env))
        return procs[-1]

    if settings.dev_mode:
        start("mail catcher", [*me, "devmail"])
        provider = start("local sign-in provider", dev_provider_command(settings))
        wait_http(dev_issuer(settings) + "/.well-known/openid-configuration", 60, provider)
    # Through `casework prefect-server`, as in production: it lowers its CPU priority
    # (CASEWORK_BACKGROUND_NICENESS) and then becomes the server.
    server = start("Prefect server", [*me, "prefect-server"])
    wait_http(settings.prefect_api_url + "/health", 120, server)
    if settings.reply_domain:
        start("reply receiver", [*me, "replies"])
    for name, sub in (("runner", "runner"), ("worker", "worker"), ("web app", "web")):
        start(name, [*me, sub])
    wait_http(settings.base_url + "/healthz", 60, procs[-1])
    print_banner(settings)
    while not stopping():
        if any(p.poll() is not None for p in procs):
            print("A Casework process stopped unexpectedly; stopping the rest.")
            return 1
        time.sleep(0.5)
    return 0


def dev_issuer(settings: Settings) -> str:
    return f"http://127.0.0.1:{settings.dev_oidc_port}"


def dev_provider_command(settings: Settings) -> list[str]:
    """The local OpenID Connect provider, its accounts the people who can sign in now."""
    import json

    from casework.demo import dev_sign_in_accounts
    from db.session import transaction

    with transaction() as session:
        accounts = dev_sign_in_accounts(session, dev_issuer(settings))
    argv = [sys.executable, "-m", "oidc_provider_mock", "--port", str(settings.dev_oidc_port)]
    for account in accounts:
        argv += ["--user-claims", json.dumps(account)]
    return argv


def replies_line(settings: Settings) -> str:
    """Where the reply receiver listens, for the banner; nothing when replies are off."""
    if not settings.reply_domain:
        return ""
    where = f"{settings.inbound_host}:{settings.inbound_port}"
    return f"\n  Replies (SMTP)   {where}, for reply-...@{settings.reply_domain}"


def print_banner(settings: Settings) -> None:
    from casework.demo import STAFF

    ui = settings.prefect_api_url.removesuffix("/api")
    print(f"""
Casework is running.
  Web app          {settings.base_url}
  Mail catcher     {settings.base_url}/dev/mail   (every email Casework sends lands here)
  Prefect UI       {ui}{replies_line(settings)}

Sign in at {settings.base_url}/signin with one of these addresses, then open the link
that arrives in the mail catcher (or press "Sign in with Local test accounts" and pick the
address there). Headteacher, DSL, HR, auditor, chair and admin also set up an
authenticator app at their first sign-in:""")
    for name, email, role, _ in STAFF:
        print(f"  {email:34} {name} ({role.value})")
    print("\nPress Ctrl-C to stop everything.\n")


if __name__ == "__main__":
    # `python -m casework.run watch MARK` is the watchdog a Lifeline starts.
    if len(sys.argv) == 3 and sys.argv[1] == "watch":
        sys.exit(watch(sys.argv[2]))
    sys.exit("usage: python -m casework.run watch MARK")
