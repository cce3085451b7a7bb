"""Waiting for a person: ask once, suspend the run, read the answer back from our database.

The web app stores the answer and only then resumes the run. Because a resumed run starts
again from the top, the answer is always read from our database, never only from Prefect.
"""

from __future__ import annotations

import re
from datetime import timedelta
from functools import cache

from prefect import task
from prefect.flow_runs import asuspend_flow_run
from prefect.input import RunInput
from pydantic import Field, create_model

from core.enums import StepKey
from core.settings import get_settings
from db.approvals import for_step
from db.session import transaction
from flows.steps.base import STEP_OPTIONS, open_case_of
from flows.steps.progress import progress_at_start
from flows.trigger import pause_key
from services.requests import PersonOutcome, ask, outcome_of


class StepDecided(RunInput):
    """What the web app hands the suspended run when it resumes it."""

    approval_id: int
    decision: str
    step: str


@cache
def decided_at(step_key: StepKey) -> type[StepDecided]:
    """The input a run waiting at `step_key` accepts: the step's own name and no other.

    Prefect's server checks a resumption's input against this schema. A decision on an
    earlier step, delivered late (its sender read the run's state before the run moved
    on), is then refused instead of waking the run at a later step with nothing decided.
    """
    return create_model(
        f"Decided_{step_key.value}",
        __base__=StepDecided,
        step=(str, Field(pattern=f"^{re.escape(step_key.value)}$")),
    )


@task(name="request_person", **STEP_OPTIONS)
async def request_person(case_id: int, step_key: StepKey) -> PersonOutcome | None:
    """The recorded outcome if there is one; otherwise make sure someone has been asked."""
    with transaction() as session:
        case = open_case_of(session, case_id)
        existing = for_step(session, case_id, step_key)
        if existing is not None:
            return outcome_of(existing)
        ask(session, case, step_key)
        return None


@task(name="read_outcome", **STEP_OPTIONS)
async def read_outcome(case_id: int, step_key: StepKey) -> PersonOutcome:
    with transaction() as session:
        approval = for_step(session, case_id, step_key)
        outcome = outcome_of(approval) if approval else None
    if outcome is None:
        raise RuntimeError(f"case {case_id} resumed at {step_key} with no decision stored")
    return outcome


async def wait_for_person(case_id: int, step_key: StepKey) -> PersonOutcome:
    """Return the step's outcome, suspending the flow run until a person gives it.

    An outcome already stored when this run started is returned without a task run
    (flows/steps/progress.py); otherwise the request task asks, or finds the answer.
    """
    known = (await progress_at_start(case_id)).outcomes.get(step_key)
    if known is not None:
        return known
    outcome = await request_person(case_id, step_key)
    if outcome is not None:
        return outcome
    timeout = int(timedelta(days=get_settings().suspend_timeout_days).total_seconds())
    await asuspend_flow_run(
        wait_for_input=decided_at(step_key), key=pause_key(step_key), timeout=timeout
    )
    return await read_outcome(case_id, step_key)
