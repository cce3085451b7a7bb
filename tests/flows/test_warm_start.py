"""The fork server runs start from: what it imports, and that it stays safe to fork."""

from __future__ import annotations

import subprocess
import sys
import types

import pytest

from flows import warm_start

# Imports everything the fork server imports, as the runner's fork server would (started
# as `python -m casework.cli`), then reports its threads and open sockets.
PROBE = """
import importlib, os, sys, threading
sys.modules["__main__"].__spec__ = type("Spec", (), {"name": "casework.cli"})()
from flows.warm_start import preloads
for name in preloads():
    importlib.import_module(name)
sockets = 0
for fd in os.listdir("/proc/self/fd"):
    try:
        sockets += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
    except OSError:
        pass
print(threading.active_count(), sockets, " ".join(preloads()))
"""


def test_the_warm_process_holds_no_thread_or_socket_to_share_with_its_runs() -> None:
    """Every preloaded module only imports: a child forked from it starts clean."""
    found = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=120
    ).stdout.split()
    threads, sockets, names = int(found[0]), int(found[1]), found[2:]
    assert (threads, sockets) == (1, 0)
    assert {"prefect.task_engine", "flows.deployments", "casework.cli"} <= set(names)


def test_the_module_the_runner_was_started_as_is_preloaded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """multiprocessing runs it again in every child: its imports are made once, warm."""
    started_as = types.ModuleType("__main__")
    started_as.__spec__ = types.SimpleNamespace(name="casework.cli")  # type: ignore[assignment]
    monkeypatch.setitem(sys.modules, "__main__", started_as)
    assert warm_start.preloads() == [*warm_start.PRELOAD, "casework.cli"]

    run_as_a_file = types.ModuleType("__main__")  # `python script.py`: nothing to import
    run_as_a_file.__spec__ = None
    monkeypatch.setitem(sys.modules, "__main__", run_as_a_file)
    assert warm_start.preloads() == warm_start.PRELOAD


# In a process of its own: importing flows.fork_server changes Prefect's client module.
SHARED = """
import ssl, certifi
import flows.fork_server
from prefect.client.orchestration import ssl as seen_by_prefect
bundle = certifi.where()
first = seen_by_prefect.create_default_context(cafile=bundle)
again = seen_by_prefect.create_default_context(cafile=bundle)
unverifying = seen_by_prefect.create_default_context()
print(first is again, unverifying is not first, first.verify_mode == ssl.CERT_REQUIRED,
      seen_by_prefect.SSLContext is ssl.SSLContext,
      seen_by_prefect.create_default_context() is not unverifying)
"""


def test_every_run_shares_one_verifying_tls_context() -> None:
    """The certificate bundle is loaded once in the fork server, not per client per run;
    the context Prefect changes after making it (not verifying) is still its own each time."""
    found = subprocess.run(
        [sys.executable, "-c", SHARED], capture_output=True, text=True, check=True, timeout=120
    ).stdout.split()
    assert found == ["True"] * 5


# What the fork server has done by the time it forks a run (it imports flows.fork_server).
DONE_ONCE = """
import sys
sys.modules["__main__"].__spec__ = type("Spec", (), {"name": "casework.cli"})()
from flows.warm_start import preloads
import importlib
for name in preloads():
    importlib.import_module(name)
from sqlalchemy.orm import class_mapper
from prefect.client.schemas.actions import FlowRunUpdate
from prefect.client.schemas.responses import DeploymentResponse
from core.templating import environment
from db.models import Case
cached = {key[1] for key in environment().cache._mapping}
print(class_mapper(Case, configure=False).configured, FlowRunUpdate.__pydantic_complete__,
      DeploymentResponse.__pydantic_complete__, "emails/case_opened.html.j2" in cached,
      "letters/case_pack.html.j2" in cached, "weasyprint" in sys.modules)
"""


def test_the_warm_process_does_once_what_every_run_did_for_itself() -> None:
    """Mappers configured, Prefect's deferred models built, the emails' and letters'
    templates compiled and WeasyPrint imported, before any run is forked."""
    found = subprocess.run(
        [sys.executable, "-c", DONE_ONCE], capture_output=True, text=True, check=True, timeout=120
    ).stdout.split()
    assert found == ["True"] * 6


# The runner's engine after start_runs_from_a_warm_process: the variables a run is given.
VARIABLES = """
import prefect.flow_engine as engine
from prefect.settings import PREFECT_API_URL, temporary_settings
from prefect.settings.context import get_current_settings
from flows.warm_start import start_runs_from_a_warm_process
start_runs_from_a_warm_process()
made = []
real = type(get_current_settings()).to_environment_variables
def counted(self, **options):
    made.append(options)
    return real(self, **options)
type(get_current_settings()).to_environment_variables = counted
first = engine.get_current_settings().to_environment_variables(exclude_unset=True)
first["CHANGED_BY_A_CALLER"] = "1"
again = engine.get_current_settings().to_environment_variables(exclude_unset=True)
same = again == real(get_current_settings(), exclude_unset=True)
with temporary_settings(updates={PREFECT_API_URL: "http://elsewhere.example/api"}):
    moved = engine.get_current_settings().to_environment_variables(exclude_unset=True)
print(len(made), same, "CHANGED_BY_A_CALLER" not in again,
      moved["PREFECT_API_URL"] == "http://elsewhere.example/api",
      engine.get_current_settings().flows.heartbeat_frequency
      == get_current_settings().flows.heartbeat_frequency)
"""


def test_the_runner_works_out_a_runs_variables_once_per_settings() -> None:
    """The same variables as Prefect's own, made once however many runs start, and made
    afresh when the settings change."""
    found = subprocess.run(
        [sys.executable, "-c", VARIABLES], capture_output=True, text=True, check=True, timeout=120
    ).stdout.split()
    assert found == ["2", "True", "True", "True", "True"]
