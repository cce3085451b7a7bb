"""Starting and resuming a case's flow run on the Prefect server.

Our database is the source of truth: these calls may fail (Prefect down) and the
reconciler (casework.worker) repeats them later; they are safe to repeat.
"""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import StateType
from prefect.exceptions import ObjectNotFound
from prefect.server.schemas.responses import SetStateStatus

from db.models import IncidentType

log = logging.getLogger("casework.trigger")


class FlowNotReady(RuntimeError):
    """The flow run exists but is not suspended yet; try again later."""


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


def flow_run_state(flow_run_id: str) -> StateType | None:
    with get_client(sync_client=True) as client:
        try:
            run = client.read_flow_run(UUID(flow_run_id))
        except ObjectNotFound:
            return None
    return run.state.type if run.state else None


def resume_case_flow(flow_run_id: str, step_key: str, run_input: dict[str, Any]) -> bool:
    """Resume a run suspended at `step_key`; False if it is not waiting on that step.

    Raises FlowNotReady while the run is still on its way to suspending.
    """
    with get_client(sync_client=True) as client:
        try:
            run = client.read_flow_run(UUID(flow_run_id))
        except ObjectNotFound:
            return False
        state = run.state.type if run.state else None
        if state in (StateType.RUNNING, StateType.PENDING, StateType.SCHEDULED):
            raise FlowNotReady(f"flow run {flow_run_id} is {state}")
        if state != StateType.PAUSED:
            return False
        if run.state and run.state.state_details.pause_key != pause_key(step_key):
            # Suspended at another step: this decision was already delivered.
            return False
        result = client.resume_flow_run(UUID(flow_run_id), run_input=run_input)
    if result.status != SetStateStatus.ACCEPT:
        details = getattr(result.details, "reason", "")
        log.info("resume of %s not accepted: %s", flow_run_id, details)
        raise FlowNotReady(details or "resume not accepted")
    return True
