"""A case's flow run on the Prefect server: start, resume, restart, and their bookkeeping.

Our database is the source of truth: these calls may fail (Prefect down) and the
reconciler (casework.reconciler) repeats them later; they are safe to repeat. Nothing
outside flows/ talks to Prefect.
"""

from __future__ import annotations

import logging
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import cache
from typing import Any
from uuid import UUID

import certifi
import httpx
from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterId,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import FlowRun, State, StateType
from prefect.events.filters import (
    EventFilter,
    EventNameFilter,
    EventOccurredFilter,
    EventResourceFilter,
)
from prefect.exceptions import ObjectNotFound
from prefect.server.schemas.responses import SetStateStatus
from prefect.settings import (
    PREFECT_API_ENABLE_HTTP2,
    PREFECT_API_REQUEST_TIMEOUT,
    PREFECT_API_SSL_CERT_FILE,
    PREFECT_API_TLS_INSECURE_SKIP_VERIFY,
)
from prefect.states import Cancelled, Cancelling, Crashed, Scheduled, Suspended

from core.enums import AuditKind, IncidentType
from core.logs import about_case
from db.approvals import get_approval
from db.audit import record_event
from db.cases import get_case, set_flow_run
from db.models import Person, utcnow
from db.session import Session, transaction

log = logging.getLogger("casework.trigger")


class FlowNotReady(RuntimeError):
    """The flow run exists but is not suspended yet; try again later."""


class Delivery(StrEnum):
    """What became of a decision handed to a case's flow run."""

    RESUMED = "resumed"
    RESTARTED = "restarted"  # the run had crashed; it runs again and reads the decision
    NOT_WAITING = "not waiting"  # the run is not waiting on this step (already delivered)


class Handed(StrEnum):
    """Whether a stored decision reached its run: true only once nothing more is needed."""

    DONE = "done"
    NOT_YET = "not yet"  # the run is still on its way to pausing: try again in a moment
    FAILED = "failed"  # Prefect could not be reached, or the case has no run to tell

    def __bool__(self) -> bool:
        return self is Handed.DONE


# A server that does not answer within this is taken as down for this call.
CONNECT_SECONDS = 5.0


def prefect_client() -> SyncPrefectClient:
    """A client that tries to reach the server once, briefly.

    Prefect's own client retries a refused connection for 1.5 s and waits up to its request
    timeout (60 s) to connect. Our callers are a person's request or a reconciler sweep, and
    the sweep repeats whatever failed: better to say at once that Prefect is down.
    """
    timeout = PREFECT_API_REQUEST_TIMEOUT.value()
    context = tls_context()
    return get_client(
        httpx_settings={
            "verify": context,
            "transport": httpx.HTTPTransport(
                retries=0, verify=context, http2=PREFECT_API_ENABLE_HTTP2.value()
            ),
            "timeout": httpx.Timeout(timeout, connect=min(timeout, CONNECT_SECONDS)),
        },
        sync_client=True,
    )


@cache
def tls_context() -> ssl.SSLContext:
    """How to check the server's certificate, as Prefect's settings say; made once, as
    loading the certificate bundle costs more than a whole call on loopback."""
    if PREFECT_API_TLS_INSECURE_SKIP_VERIFY.value():
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    return ssl.create_default_context(cafile=PREFECT_API_SSL_CERT_FILE.value() or certifi.where())


def pause_key(step_key: str) -> str:
    """Prefect's input keys allow only lowercase letters, digits and dashes."""
    return step_key.replace("_", "-")


def deployment_name(incident_type: IncidentType | str) -> str:
    slug = IncidentType(incident_type).value
    return f"{slug}/{slug}"


# Each deployment's id, read once a process: a new case is then one call to Prefect's server,
# not two. A runner serving again keeps its deployments' ids; one deleted and made again
# under the same name is read afresh when creating a run from the old id fails.
_deployment_ids: dict[str, UUID] = {}


def start_case_flow(case_id: int, incident_type: IncidentType | str) -> str:
    """Create the case's flow run (idempotent per case) and return its id."""
    name = deployment_name(incident_type)
    with prefect_client() as client:
        try:
            run = _create_run(client, _deployment_id(client, name), case_id)
        except httpx.HTTPStatusError as exc:
            if exc.response.status_code != httpx.codes.NOT_FOUND:
                raise
            _deployment_ids.pop(name, None)
            run = _create_run(client, _deployment_id(client, name), case_id)
    return str(run.id)


def _deployment_id(client: SyncPrefectClient, name: str) -> UUID:
    found = _deployment_ids.get(name)
    if found is None:
        found = _deployment_ids[name] = client.read_deployment_by_name(name).id
    return found


def _create_run(client: SyncPrefectClient, deployment_id: UUID, case_id: int) -> FlowRun:
    return client.create_flow_run_from_deployment(
        deployment_id,
        parameters={"case_id": case_id},
        idempotency_key=f"case-{case_id}",
        name=f"case-{case_id}",
    )


def resume_case_flow(flow_run_id: str, step_key: str, run_input: dict[str, Any]) -> Delivery:
    """Hand a stored decision to the run waiting at `step_key`.

    A crashed run is started again instead. Raises FlowNotReady while the run is still
    on its way to suspending.
    """
    with prefect_client() as client:
        try:
            run = client.read_flow_run(UUID(flow_run_id))
        except ObjectNotFound:
            return Delivery.NOT_WAITING
        state = run.state.type if run.state else None
        if state in ON_THE_WAY:
            raise FlowNotReady(f"flow run {flow_run_id} is {state}")
        if run.state is not None and died(run.state.type, run.state.message or ""):
            if not _restart_if(client, run.id, lambda now: died(now.type, now.message or "")):
                raise FlowNotReady(f"flow run {flow_run_id} could not be restarted")
            return Delivery.RESTARTED
        if state != StateType.PAUSED:
            log.warning("flow run %s is %s: decision for %s not delivered", run.id, state, step_key)
            return Delivery.NOT_WAITING
        if run.state and run.state.state_details.pause_key != pause_key(step_key):
            # Suspended at another step: this decision was already delivered.
            return Delivery.NOT_WAITING
        result = client.resume_flow_run(UUID(flow_run_id), run_input=run_input)
        if result.status == SetStateStatus.REJECT and LEGACY_INPUT in _reason(result):
            # Suspended by an earlier version, whose input had no step: hand it that.
            legacy = {key: value for key, value in run_input.items() if key != "step"}
            result = client.resume_flow_run(UUID(flow_run_id), run_input=legacy)
        if result.status == SetStateStatus.REJECT and NO_SCHEMA in _reason(result):
            if not schema_never_came(run.state):
                raise FlowNotReady(f"flow run {flow_run_id} is still saving its input schema")
            if not _restart(client, run.id):
                raise FlowNotReady(f"flow run {flow_run_id} could not be restarted")
            return Delivery.RESTARTED
    if result.status != SetStateStatus.ACCEPT:
        details = _reason(result)
        log.info("resume of %s not accepted: %s", flow_run_id, details)
        raise FlowNotReady(details or "resume not accepted")
    return Delivery.RESUMED


# What Prefect's server says of an input with a step to a run that expects none.
LEGACY_INPUT = "('step' was unexpected)"
# Prefect suspends a run first and saves its wait's input schema after: a run whose process
# died, or lost the server, between the two is suspended for good, every resumption refused
# with this. It is run again from the top instead, and reads the decision from our database.
# (Seen under load with two runners on PostgreSQL, tests/e2e/test_local_authority.py.)
NO_SCHEMA = "Run input schema not found."
# A live run saves its schema a moment after suspending; a decision that comes in between
# (the hand-off is quick) waits for it. Only a run suspended this long without one is dead.
SCHEMA_GRACE = timedelta(seconds=30)


def schema_never_came(state: State[Any] | None) -> bool:
    """The run has been suspended without its input schema for longer than a live run takes."""
    return state is not None and datetime.now(UTC) - state.timestamp > SCHEMA_GRACE


def _reason(result: Any) -> str:
    return str(getattr(result.details, "reason", "") or "")


# States a run passes through on its way to suspending or stopping: ask again shortly.
ON_THE_WAY = (StateType.RUNNING, StateType.PENDING, StateType.SCHEDULED, StateType.CANCELLING)

# A runner told to stop (a deploy, a restart of the machine) cancels the runs it is
# executing with this message, rather than letting them crash: for a case that is the same
# as its process dying, not a person's decision to cancel it.
RUNNER_SHUTDOWN = "Runner is shutting down."


def died(state: StateType, message: str) -> bool:
    """The run stopped because its process did (crashed, or its runner shut down)."""
    if state == StateType.CRASHED:
        return True
    return state == StateType.CANCELLED and message.startswith(RUNNER_SHUTDOWN)


# Prefect names a suspended wait's inputs "<state name>-<pause key>-...".
WAIT_INPUTS = f"{(Suspended().name or 'Suspended').lower()}-"


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
    state: State[Any] = Scheduled(name="Restarting", message="Started again after the run stopped.")
    return client.set_flow_run_state(run_id, state).status == SetStateStatus.ACCEPT


# A worker's hand-off (a decision for a crashed run) and its reconciler (the crashed run
# itself) may both set out to restart one run: each looks at the run again, holding this,
# so only the first restarts it and records so.
_restarting = threading.Lock()


def _restart_if(
    client: SyncPrefectClient, run_id: UUID, still: Callable[[State[Any]], bool]
) -> bool:
    """Restart the run if its state, read again now, is `still` one to restart from."""
    with _restarting:
        run = client.read_flow_run(run_id)
        if run.state is None or not still(run.state):
            return False
        return _restart(client, run_id)


WITHDRAWN = "The case was withdrawn in Casework."


def cancel_case_flow(flow_run_id: str) -> bool:
    """Stop a withdrawn case's run for good; True once Prefect has taken the request.

    A run executing a step is asked to cancel (its runner stops the process); one waiting
    or scheduled is cancelled at once. Ended runs are left as they are.
    """
    with prefect_client() as client:
        try:
            run = client.read_flow_run(UUID(flow_run_id))
        except ObjectNotFound:
            return True
        if run.state is None or run.state.is_final():
            return True
        running = run.state.type in (StateType.RUNNING, StateType.PENDING)
        state: State[Any] = (
            Cancelling(message=WITHDRAWN) if running else Cancelled(message=WITHDRAWN)
        )
        result = client.set_flow_run_state(run.id, state, force=True)
    return result.status == SetStateStatus.ACCEPT


def restart_case_flow(flow_run_id: str) -> bool:
    """Run a stopped case flow again; False if it is no longer stopped (someone else, such
    as a decision's delivery, has started it again meanwhile) or Prefect refused."""
    with prefect_client() as client:
        return _restart_if(client, UUID(flow_run_id), lambda now: now.is_final())


# Ended without finishing the procedure: crashed (its process died), failed (a step's own
# error, after its retries) or cancelled (by its runner shutting down, or by hand in
# Prefect's UI).
STOPPED = (StateType.CRASHED, StateType.FAILED, StateType.CANCELLED)


@dataclass(frozen=True)
class StoppedRun:
    flow_run_id: str
    state: StateType
    message: str
    since: str  # when it stopped (ISO 8601): tells one stop from the next

    @property
    def crashed(self) -> bool:
        """Its process died (safe to run again), rather than failing or a person cancelling it."""
        return died(self.state, self.message)

    @property
    def state_name(self) -> str:
        return self.state.value.lower()


def stopped_runs(flow_run_ids: list[str]) -> list[StoppedRun]:
    """Which of these flow runs have stopped short of completing."""
    with prefect_client() as client:
        return [
            StoppedRun(
                str(run.id),
                run.state.type,
                run.state.message or "",
                run.state.timestamp.isoformat(),
            )
            for chunk in chunks(flow_run_ids)
            for run in runs_in(client, chunk, STOPPED)
            if run.state is not None
        ]


def chunks(flow_run_ids: list[str], size: int = 200) -> Iterator[list[UUID]]:
    """The ids a page at a time, so no request to Prefect grows without bound."""
    for start in range(0, len(flow_run_ids), size):
        yield [UUID(i) for i in flow_run_ids[start : start + size]]


def runs_in(
    client: SyncPrefectClient, ids: list[UUID], states: tuple[StateType, ...]
) -> list[FlowRun]:
    """Those of these flow runs that are in one of `states` now."""
    return client.read_flow_runs(
        flow_run_filter=FlowRunFilter(
            id=FlowRunFilterId(any_=ids),
            state=FlowRunFilterState(type=FlowRunFilterStateType(any_=list(states))),
        ),
        limit=len(ids),
    )


# --- Runs whose process has gone without a word -----------------------------------------

# A run's process sends this event every `flow_heartbeat_seconds` while it runs a flow.
HEARTBEAT = "prefect.flow-run.heartbeat"
# Nobody reports the end of a run whose process was killed outright (SIGKILL, its machine
# lost): it stays RUNNING, or PENDING if its runner died before starting it, for good.
SILENT_STATES = (StateType.RUNNING, StateType.PENDING)
# Prefect answers at most this many events a page.
EVENTS_PAGE = 50
SILENCE = "No heartbeat for {seconds:.0f} s: the process running it has gone."


def silent_runs(flow_run_ids: list[str], silence: timedelta) -> list[str]:
    """Which of these runs are running or pending and have given no sign of life (a change
    of state or a heartbeat) for `silence`: their process is dead, or its machine."""
    found: list[str] = []
    since = datetime.now(UTC) - silence
    with prefect_client() as client:
        for chunk in chunks(flow_run_ids):
            runs = runs_in(client, chunk, SILENT_STATES)
            quiet = [str(r.id) for r in runs if r.state is not None and r.state.timestamp < since]
            alive = _heartbeats_since(client, quiet, since)
            found.extend(run_id for run_id in quiet if run_id not in alive)
    return found


def _heartbeats_since(client: SyncPrefectClient, run_ids: list[str], since: datetime) -> set[str]:
    """The runs among `run_ids` that sent a heartbeat after `since`."""
    alive: set[str] = set()
    for start in range(0, len(run_ids), EVENTS_PAGE):
        resources = [f"prefect.flow-run.{i}" for i in run_ids[start : start + EVENTS_PAGE]]
        page = client.read_events(
            EventFilter(
                # Up to a day ahead: another machine's clock may run a little fast.
                occurred=EventOccurredFilter.model_validate(
                    {"since": since, "until": since + timedelta(days=1)}
                ),
                event=EventNameFilter(name=[HEARTBEAT]),
                resource=EventResourceFilter(id=resources, distinct=True),
            ),
            limit=EVENTS_PAGE,
        )
        alive.update(event.resource.id.removeprefix("prefect.flow-run.") for event in page.events)
    return alive


def mark_crashed(flow_run_id: str, silence: timedelta) -> bool:
    """Record in Prefect that a silent run's process has died, as its runner would have had
    it lived; the reconciler then runs it again like any crashed run."""
    state: State[Any] = Crashed(message=SILENCE.format(seconds=silence.total_seconds()))
    with prefect_client() as client:
        return client.set_flow_run_state(UUID(flow_run_id), state).status == SetStateStatus.ACCEPT


# --- Bookkeeping: what our database remembers about each case's run --------------------


def start_flow_safely(case_id: int, kind: IncidentType) -> bool:
    """Start the case's flow now if Prefect answers; otherwise the reconciler starts it later."""
    with about_case(case_id):
        try:
            run_id = start_case_flow(case_id, kind)
        except Exception as exc:
            log.warning("case %s: flow not started yet (%s)", case_id, exc)
            return False
        with transaction() as session:
            set_flow_run(session, case_id, run_id)
        log.info("case %s: flow run %s created", case_id, run_id, extra={"flow_run_id": run_id})
    return True


def record_restart(
    session: Session, case_id: int, flow_run_id: str, why: str, actor: Person | None = None
) -> None:
    record_event(
        session,
        case_id=case_id,
        kind=AuditKind.FLOW_RESTARTED,
        actor=actor,
        data={"flow_run_id": flow_run_id, "after": why},
    )


def decision_input(approval_id: int, decision: str, step_key: str) -> dict[str, Any]:
    """What a run waiting at `step_key` is resumed with; it refuses it at any other step."""
    return {"approval_id": approval_id, "decision": decision, "step": step_key}


def deliver_decision(approval_id: int) -> Handed:
    """Resume the run waiting on this decision; DONE (true) once nothing more is needed."""
    with transaction() as session:
        approval = get_approval(session, approval_id)
        if approval is None or approval.resumed_at is not None:
            return Handed.DONE
        flow_run_id, step_key = get_case(session, approval.case_id).flow_run_id, approval.step_key
        if not flow_run_id or approval.decision is None:
            return Handed.FAILED
        run_input = decision_input(approval.id, approval.decision.value, step_key)
        case_id = approval.case_id
    with about_case(case_id, flow_run_id):
        return _deliver(approval_id, flow_run_id, step_key, run_input)


def _deliver(
    approval_id: int, flow_run_id: str, step_key: str, run_input: dict[str, Any]
) -> Handed:
    """Hand the stored decision to Prefect, then note that it has been delivered."""
    # No transaction is held while Prefect is called: SQLite writers would queue behind it.
    try:
        delivery = resume_case_flow(flow_run_id, step_key, run_input)
    except FlowNotReady as exc:
        log.info("approval %s: flow not ready to resume (%s)", approval_id, exc)
        return Handed.NOT_YET
    except Exception as exc:
        log.warning("approval %s: Prefect unreachable (%s)", approval_id, exc)
        return Handed.FAILED
    with transaction() as session:
        approval = get_approval(session, approval_id)
        if approval is not None and approval.resumed_at is None:
            approval.resumed_at = utcnow()
            if delivery == Delivery.RESTARTED:
                record_restart(session, approval.case_id, flow_run_id, f"decision on {step_key}")
    return Handed.DONE
