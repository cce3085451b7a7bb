"""The runner: serves one deployment per incident type (`casework runner` starts it)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any

from prefect import Flow
from prefect.exceptions import TerminationSignal
from prefect.runner import Runner

from core.enums import IncidentType
from core.settings import get_settings
from flows.online_abuse import online_abuse
from flows.parent_contact import parent_contact
from flows.pupil_contact import pupil_contact
from flows.staff_conduct import staff_conduct
from flows.warm_start import start_runs_from_a_warm_process

# Each flow and its deployment are named by the incident type's slug.
FLOWS: dict[IncidentType, Flow[[int], Coroutine[Any, Any, str]]] = {
    IncidentType.PUPIL_CONTACT: pupil_contact,
    IncidentType.PARENT_CONTACT: parent_contact,
    IncidentType.ONLINE_ABUSE: online_abuse,
    IncidentType.STAFF_CONDUCT: staff_conduct,
}


def serve_all() -> None:
    """Block, running flow runs for every incident type as the server schedules them, at
    most `flow_runs_at_once` of them at a time (the rest wait their turn at the server).

    The flows are added as objects (not loaded again from an entrypoint) so the runner
    starts each run by forking from its warm process (flows/warm_start.py).
    """
    start_runs_from_a_warm_process()
    settings = get_settings()
    runner = Runner(
        limit=settings.flow_runs_at_once,
        query_seconds=settings.runner_poll_seconds,
        # Each run's process says it is alive this often; a run that stops saying so is
        # taken as crashed by the reconciler (its machine or this runner killed outright).
        heartbeat_seconds=settings.flow_heartbeat_seconds,
    )
    for kind, flow in FLOWS.items():
        runner.add_flow(flow, name=kind.value)
    # Asked to stop: the runner has already ended its own work by the time this comes.
    with contextlib.suppress(KeyboardInterrupt, TerminationSignal):
        asyncio.run(runner.start())


if __name__ == "__main__":
    serve_all()
