"""Flow runs start from a warm process: a fork server that has imported Prefect and the flows.

Prefect's runner starts each flow run (and each resumption of a suspended one) in a new
interpreter made with multiprocessing's "spawn", which spends seconds importing Prefect and
the flows before the first step runs; a case takes several such hops. A fork server is one
process, started once with those modules imported, that forks a child per run in
milliseconds. It holds no threads, sockets or database connections when it forks (it only
imports), so each child starts as clean as a spawned one; Prefect's wrapper still sets the
run's environment and settings inside the child. See docs/DECISIONS.md.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.context
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

import prefect.flow_engine

# Imported once by the fork server; every run forked from it has them already. Besides our
# flows and Prefect's flow engine, the modules Prefect imports only once a run is under
# way, which every run would otherwise import again for itself (found by profiling a run's
# process): the task engine (with the concurrency and graph modules it pulls in), anyio's
# asyncio backend and the IDNA codec httpx encodes the server's name with. Then what a
# whole test session's runs were found importing for themselves (profiled again): Prefect's
# graph helpers, which its engine imports on a run's first task; WeasyPrint, which every run
# that prints a pack or letters imported on its own (a second of CPU each); the date parser.
# Last, flows.fork_server, which makes the TLS context every run's Prefect clients share and
# does the rest of the work every run would otherwise repeat.
PRELOAD = [
    "prefect.flow_engine",
    "prefect.task_engine",
    "prefect.utilities.visualization",
    "anyio._backends._asyncio",
    "encodings.idna",
    "_strptime",
    "weasyprint",
    "flows.deployments",
    "flows.fork_server",
]


def preloads() -> list[str]:
    """PRELOAD, and the module this process was started as (`python -m casework.cli`):
    multiprocessing runs that module again in every child it starts, so that functions
    defined in it can be found, and its imports are better made once, here."""
    main = getattr(sys.modules.get("__main__"), "__spec__", None)
    name = getattr(main, "name", None)
    if isinstance(name, str) and name not in PRELOAD and not name.endswith("__main__"):
        return [*PRELOAD, name]
    return list(PRELOAD)


class _SpawnFromForkServer:
    """Stands in for the multiprocessing module inside Prefect's flow engine, which asks for a
    "spawn" context by name: it gets the fork server's instead. Anything else passes through."""

    def __init__(self, real: ModuleType, server: multiprocessing.context.BaseContext) -> None:
        self._real = real
        self._server = server

    def get_context(self, method: str | None = None) -> Any:
        return self._server if method == "spawn" else self._real.get_context(method)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


class _SettingsOnce:
    """Stands in for Prefect's current settings inside its flow engine, in the runner: the
    environment variables a run's process is given are worked out once per settings object
    (Prefect turned every setting into a variable again for each run it started, 30 ms on a
    quiet machine, inside the runner's one event loop). Anything else passes through."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self._variables: dict[tuple[tuple[str, Any], ...], dict[str, str]] = {}

    def to_environment_variables(self, **options: Any) -> dict[str, str]:
        key = tuple(sorted(options.items()))
        if key not in self._variables:
            self._variables[key] = self.real.to_environment_variables(**options)
        return dict(self._variables[key])

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def _settings_once(current: Callable[[], Any]) -> Callable[[], Any]:
    """`current` (Prefect's get_current_settings), answering with a stand-in that keeps its
    variables for as long as the settings it stands for are the current ones."""
    held: _SettingsOnce | None = None

    def settings() -> Any:
        nonlocal held
        real = current()
        if held is None or held.real is not real:
            held = _SettingsOnce(real)
        return held

    return settings


def start_runs_from_a_warm_process() -> None:
    """Make this process's flow runs fork from a preloaded server instead of spawning cold."""
    engine: Any = prefect.flow_engine
    if isinstance(engine.multiprocessing, _SpawnFromForkServer):
        return
    server = multiprocessing.get_context("forkserver")
    server.set_forkserver_preload(preloads())
    engine.multiprocessing = _SpawnFromForkServer(multiprocessing, server)
    engine.get_current_settings = _settings_once(engine.get_current_settings)
