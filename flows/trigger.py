"""Starting and resuming a case's flow run on the Prefect server.

Our database is the source of truth: these calls may fail (Prefect down) and the
reconciler (casework.worker) repeats them later; they are safe to repeat.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from uuid import UUID

from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterId,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import StateType
from prefect.exceptions import ObjectNotFound
from prefect.server.schemas.responses import SetStateStatus
from prefect.states import Scheduled, Suspended

from db.models import IncidentType

log = logging.getLogger("casework.trigger")


class FlowNotReady(RuntimeError):
    """The flow run exists but is not suspended yet; try again later."""


class Delivery(StrEnum):
    """What became of a decision handed to a case's flow run."""

    RESUMED = "resumed"
    RESTARTED = "restarted"  # the run had crashed; it runs again and reads the decision
    NOT_WAITING = "not waiting"  # the run is not waiting on this step (already delivered)


def pause_key(step_key: str) -> str:
    """Prefect's input keys allow only lowercase letters, digits and dashes."""
    return step_key.replace("_", "-")


def deployment_name(incident_type: IncidentType | str) -> str:
    slug = IncidentType(incident_type).value
    return f"{slug}/{slug}"


def start_case_flow(case_id: int, incident_type: IncidentType | str) -> str:
    """Create the case's flow run (idempotent per case) and return its id."""
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name(deployment_name(incident_type))
        run = client.create_flow_run_from_deployment(
            deployment.id,
            parameters={"case_id": case_id},
            idempotency_key=f"case-{case_id}",
            name=f"case-{case_id}",
        )
    return str(run.id)


def resume_case_flow(flow_run_id: str, step_key: str, run_input: dict[str, Any]) -> Delivery:
    """Hand a stored decision to the run waiting at `step_key`.

    A crashed run is started again instead. Raises FlowNotReady while the run is still
    on its way to suspending.
    """
    with get_client(sync_client=True) as client:
        try:
            run = client.read_flow_run(UUID(flow_run_id))
        except ObjectNotFound:
            return Delivery.NOT_WAITING
        state = run.state.type if run.state else None
        if state in (StateType.RUNNING, StateType.PENDING, StateType.SCHEDULED):
            raise FlowNotReady(f"flow run {flow_run_id} is {state}")
        if state == StateType.CRASHED:
            if not _restart(client, run.id):
                raise FlowNotReady(f"flow run {flow_run_id} could not be restarted")
            return Delivery.RESTARTED
        if state != StateType.PAUSED:
            log.warning("flow run %s is %s: decision for %s not delivered", run.id, state, step_key)
            return Delivery.NOT_WAITING
        if run.state and run.state.state_details.pause_key != pause_key(step_key):
            # Suspended at another step: this decision was already delivered.
            return Delivery.NOT_WAITING
        result = client.resume_flow_run(UUID(flow_run_id), run_input=run_input)
    if result.status != SetStateStatus.ACCEPT:
        details = getattr(result.details, "reason", "")
        log.info("resume of %s not accepted: %s", flow_run_id, details)
        raise FlowNotReady(details or "resume not accepted")
    return Delivery.RESUMED


# Prefect names a suspended wait's inputs "<state name>-<pause key>-...".
WAIT_INPUTS = f"{Suspended().name.lower()}-"


# A run whose process is stopped (a runner restarted or killed) ends CRASHED, even when
# it had just suspended. Steps are idempotent and every decision is read back from our
# database, so such a run (or a failed one, once a person has dealt with the cause) is
# simply run again from the top. Leaving a terminal state this way is Prefect's own
# "retry": it also forgets the run's spent pause keys, so the run can suspend at the same
# step again. The inputs Prefect kept for the old attempt's waits are deleted first (before
# a runner can pick the run up): Prefect refuses (409) to suspend at a wait whose input
# exists, and our decisions are read from our database, never from those inputs.
def _restart(client: SyncPrefectClient, run_id: UUID) -> bool:
    waits = client.filter_flow_run_input(run_id, WAIT_INPUTS, limit=1000, exclude_keys=set())
    for stale in waits:
        client.delete_flow_run_input(run_id, stale.key)
    state = Scheduled(name="Restarting", message="Started again after the run stopped.")
    return client.set_flow_run_state(run_id, state).status == SetStateStatus.ACCEPT


def restart_case_flow(flow_run_id: str) -> bool:
    """Run a stopped case flow again; False if Prefect refused (it is no longer stopped)."""
    with get_client(sync_client=True) as client:
        return _restart(client, UUID(flow_run_id))


# Ended without finishing the procedure: crashed (its process died), failed (a step's own
# error, after its retries) or cancelled (by hand, in Prefect's UI).
STOPPED = (StateType.CRASHED, StateType.FAILED, StateType.CANCELLED)


@dataclass(frozen=True)
class StoppedRun:
    flow_run_id: str
    state: StateType
    message: str
    since: str  # when it stopped (ISO 8601): tells one stop from the next


def stopped_runs(flow_run_ids: list[str]) -> list[StoppedRun]:
    """Which of these flow runs have stopped short of completing."""
    found: list[StoppedRun] = []
    with get_client(sync_client=True) as client:
        for start in range(0, len(flow_run_ids), 200):
            chunk = [UUID(i) for i in flow_run_ids[start : start + 200]]
            runs = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(
                    id=FlowRunFilterId(any_=chunk),
                    state=FlowRunFilterState(type=FlowRunFilterStateType(any_=list(STOPPED))),
                ),
                limit=len(chunk),
            )
            found.extend(
                StoppedRun(
                    str(run.id),
                    run.state.type,
                    run.state.message or "",
                    run.state.timestamp.isoformat(),
                )
                for run in runs
                if run.state is not None
            )
    return found
