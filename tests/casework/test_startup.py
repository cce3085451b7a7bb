"""What the processes started most often import: a web process, the reply receiver and any
`casework` command start without Prefect (a second of start-up each) or the admin commands'
services; only the worker, the runner and the routes that call Prefect import it."""

from __future__ import annotations

import subprocess
import sys

import pytest

LOADED = "import sys, {module}; print(' '.join(sorted(sys.modules)))"


def modules_after_importing(module: str) -> set[str]:
    """Every module a fresh interpreter holds once it has imported `module`."""
    found = subprocess.run(
        [sys.executable, "-c", LOADED.format(module=module)],
        capture_output=True,
        text=True,
        check=True,
    )
    return set(found.stdout.split())


@pytest.mark.parametrize("module", ["api.app", "casework.replies", "casework.cli"])
def test_a_process_that_never_calls_prefect_does_not_import_it(module: str) -> None:
    loaded = modules_after_importing(module)
    assert "prefect" not in loaded
    assert "flows.trigger" not in loaded


def test_the_command_line_imports_the_admin_commands_only_to_run_one() -> None:
    loaded = modules_after_importing("casework.cli")
    assert "casework.admin_cli" not in loaded
    assert "casework.retention_cli" not in loaded
    assert "services.people" not in loaded


def test_the_worker_still_imports_prefect_to_hand_cases_on() -> None:
    assert "prefect" in modules_after_importing("casework.worker")
