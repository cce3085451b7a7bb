"""Nothing outlives what started it: a killed test run or `casework run` leaves no process.

Each test gives the process it starts a mark of its own (the same mechanism the code under
test uses), kills that process with SIGKILL, which it cannot catch, and then looks through
/proc for anything still carrying the mark.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from casework.run import LIFELINES, marked, reap
from core.settings import PROJECT_ROOT
from mail.catcher import free_port
from tests.stack import prepare_prefect_home
from tests.support import wait_until

# A child that starts a grandchild the way Prefect's runner starts a flow run (in a session
# of its own, out of reach of a signal to the child's group); the grandchild ignores SIGTERM.
CHILD = """
import subprocess, sys, time
subprocess.Popen([sys.executable, "-c", "import signal, time; "
    "signal.signal(signal.SIGTERM, signal.SIG_IGN); print('stubborn'); time.sleep(600)"],
    start_new_session=True)
time.sleep(600)
"""
OWNER = f"""
import os, sys, time
from casework.run import Lifeline
line = Lifeline().start()
line.spawn([sys.executable, "-c", {CHILD!r}], os.environ)
time.sleep(600)
"""


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def parent_of(pid: int) -> int:
    # The fields after the command name, which is in brackets and may hold spaces.
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


def commands(mark: str) -> list[str]:
    return [cmdline(pid) for pid in marked(mark)]


def has_all(mark: str, parts: list[str]) -> bool:
    """Whether some marked process matches each of `parts` (a part named twice: two do)."""
    running = commands(mark)
    return all(sum(part in command for command in running) >= parts.count(part) for part in parts)


@pytest.fixture
def mark() -> Iterator[str]:
    """A mark for the processes one test starts; whatever still carries it afterwards ends."""
    value = f"test-{secrets.token_hex(6)}"
    yield value
    reap(value, grace=1)


def marked_env(mark: str, **extra: str) -> dict[str, str]:
    """This process's environment for a run of its own, carrying `mark`."""
    env = {
        key: value
        for key, value in os.environ.items()
        # The inner run is neither an xdist worker nor on PostgreSQL.
        if not key.startswith(("PYTEST_", "CASEWORK_"))
    }
    return {**env, **extra, LIFELINES: f"{os.environ.get(LIFELINES, '')} {mark}".strip()}


def start(argv: list[str], mark: str, log: Path, **extra: str) -> subprocess.Popen[bytes]:
    with open(log, "wb") as out:
        return subprocess.Popen(
            argv,
            cwd=PROJECT_ROOT,
            env=marked_env(mark, **extra),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def kill_and_count_survivors(proc: subprocess.Popen[bytes], mark: str) -> list[str]:
    """SIGKILL `proc`, and give what it started 10 s to go; returns what is left."""
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    deadline = time.monotonic() + 10
    while marked(mark) and time.monotonic() < deadline:
        time.sleep(0.1)
    return commands(mark)


def wait_while_running(
    proc: subprocess.Popen[bytes], log: Path, mark: str, parts: list[str], seconds: float
) -> None:
    """Wait until processes matching every one of `parts` carry `mark`."""

    def ready() -> bool:
        assert proc.poll() is None, f"it ended early:\n{log.read_text()[-3000:]}"
        return has_all(mark, parts)

    wait_until(ready, seconds, 0.2, f"{parts} to be running")


def test_a_killed_owner_takes_grandchildren_in_other_sessions_with_it(
    mark: str, tmp_path: Path
) -> None:
    owner = start([sys.executable, "-c", OWNER], mark, tmp_path / "owner.log")
    grandchild = "-c import signal"
    wait_while_running(owner, tmp_path / "owner.log", mark, [grandchild, "casework.run watch"], 30)
    stubborn = next(pid for pid in marked(mark) if grandchild in cmdline(pid))
    child = parent_of(stubborn)
    assert os.getsid(stubborn) != os.getsid(child), "a signal to the child's group would miss it"

    left = kill_and_count_survivors(owner, mark)

    assert left == [], f"still running after their owner was killed: {left}"


@pytest.mark.e2e
def test_a_killed_test_run_leaves_no_part_of_its_stack_running(mark: str, tmp_path: Path) -> None:
    """What the issue saw: `pytest -k pupil_contact`, killed while a case's flow runs."""
    log = tmp_path / "pytest.log"
    inner = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    inner += ["--basetemp", str(tmp_path / "inner"), "tests/e2e", "-k", "pupil_contact"]
    run = start(inner, mark, log)
    parts = ["flows.prefect_server server start", "casework.cli runner", "casework.cli web"]
    # A flow run is forked from the runner's warm process and keeps its command line: the
    # fork server and at least one run.
    parts += ["casework.cli worker", *["multiprocessing.forkserver"] * 2]
    wait_while_running(run, log, mark, parts, 300)

    left = kill_and_count_survivors(run, mark)

    assert left == [], f"still running after pytest was killed: {left}"


@pytest.mark.e2e
def test_a_killed_casework_run_leaves_nothing_running(mark: str, tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    web, mail = free_port(), free_port()
    settings = {
        "CASEWORK_VAR_DIR": str(tmp_path / "var"),
        "CASEWORK_WEB_PORT": str(web),
        "CASEWORK_BASE_URL": f"http://127.0.0.1:{web}",
        "CASEWORK_PREFECT_API_URL": f"http://127.0.0.1:{free_port()}/api",
        "CASEWORK_DEVMAIL_PORT": str(mail),
        "CASEWORK_SMTP_PORT": str(mail),
        "CASEWORK_BACKGROUND_NICENESS": "0",  # the tests beside it are not people waiting
    }
    prepare_prefect_home(tmp_path / "var" / "prefect")
    run = start([sys.executable, "-m", "casework.cli", "run"], mark, log, **settings)
    wait_until(lambda: "Casework is running" in log.read_text(), 300, 0.5, "the banner")
    parts = ["casework.cli devmail", "flows.prefect_server server start", "casework.cli runner"]
    assert has_all(mark, [*parts, "casework.cli web", "casework.cli worker"])

    left = kill_and_count_survivors(run, mark)

    assert left == [], f"still running after `casework run` was killed: {left}"


LEAKY_TEST = """
import subprocess, sys

def test_forgets_a_process() -> None:
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
"""


def test_a_run_that_leaves_a_process_running_fails_and_ends_it(mark: str, tmp_path: Path) -> None:
    (tmp_path / "test_leaky.py").write_text(LEAKY_TEST)
    log = tmp_path / "pytest.log"
    inner = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.conftest"]
    inner += ["-c", "pyproject.toml", "--basetemp", str(tmp_path / "inner")]
    inner += ["-W", "ignore::ResourceWarning", str(tmp_path / "test_leaky.py")]
    run = start(inner, mark, log)

    assert run.wait(120) == pytest.ExitCode.TESTS_FAILED, log.read_text()
    assert "1 passed" in log.read_text(), "the test itself passed; the run did not"
    assert "were still running" in log.read_text() and "time.sleep(600)" in log.read_text()
    assert commands(mark) == [], "the leftover process was ended"
