"""What a run finds already settled when it starts: read once, in one task run.

A resumed run starts again from the top, and every step it passes over used to be a Prefect
task run of its own that found its step settled in our database and did nothing: six task
runs before the next request on a pupil-contact case's first hop, one more on each hop
after. The run now reads the case's settled steps and its decided requests once, in one
task run, the first time it needs them, and passes over those steps without a task run.

Why this is safe: while a run goes on, a step only ever becomes settled (a reopened or
restarted case starts a new run), so what was settled when this run started is settled
still. A step that was not settled then still runs as its task, which checks its own row
again, exactly as before. The snapshot belongs to one execution of one run: a run resumed
later reads it afresh.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from prefect import task
from prefect.context import FlowRunContext

from db.approvals import approvals_of
from db.cases import steps_of
from db.models import StepStatus
from db.session import transaction
from flows.steps.base import STEP_OPTIONS, open_case_of
from services.requests import PersonOutcome, outcome_of

SETTLED = (StepStatus.DONE, StepStatus.SKIPPED)


@dataclass(frozen=True)
class Progress:
    """A case's settled steps and its decided requests' outcomes, by step key."""

    settled: frozenset[str] = frozenset()
    outcomes: dict[str, PersonOutcome] = field(default_factory=dict)


@task(name="progress", **STEP_OPTIONS)
async def read_progress(case_id: int) -> Progress:
    """What the case has settled so far (refusing, like every step, a withdrawn case)."""
    with transaction() as session:
        open_case_of(session, case_id)
        settled = frozenset(s.key for s in steps_of(session, case_id) if s.status in SETTLED)
        outcomes = {
            key: outcome
            for key, approval in approvals_of(session, case_id).items()
            if (outcome := outcome_of(approval)) is not None
        }
    return Progress(settled, outcomes)


# The snapshot of the execution running in this process: (its key, what it read).
_snapshot: tuple[tuple[str, str, int], Progress] | None = None


def execution_key(case_id: int) -> tuple[str, str, int] | None:
    """This execution of this flow run: its id and when this execution began; None
    outside a flow run."""
    context = FlowRunContext.get()
    if context is None or context.flow_run is None:
        return None
    return (str(context.flow_run.id), context.start_time.isoformat(), case_id)


async def progress_at_start(case_id: int) -> Progress:
    """The case's progress as this execution of its run found it, read on first use."""
    global _snapshot
    key = execution_key(case_id)
    if key is None:
        return Progress()  # not in a run: pass over nothing, every step checks itself
    if _snapshot is None or _snapshot[0] != key:
        _snapshot = (key, await read_progress(case_id))
    return _snapshot[1]
