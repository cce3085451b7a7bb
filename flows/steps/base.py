"""What every step shares: Prefect's task options and the idempotent step preamble.

A resumed run starts again from the top, so every step is idempotent by (case id, step
key): it checks its own row in our database first and does nothing once it is settled.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from core.enums import StepKey
from core.logs import about_case
from db.cases import claim_step, finish_step, get_case, get_step, step_is_settled
from db.models import Case, CaseStatus
from db.session import Session, transaction

T = TypeVar("T")

# Steps are idempotent in our database; Prefect's result cache is neither needed nor
# trusted for that, so it is switched off.
STEP_OPTIONS: dict[str, Any] = {"cache_policy": NO_CACHE, "retries": 2, "retry_delay_seconds": 5}


class CaseWithdrawn(RuntimeError):
    """The case was withdrawn while its run was on its way: the run must do nothing more."""


def open_case_of(session: Session, case_id: int) -> Case:
    """The case, unless it was withdrawn (its run is being cancelled: stop here)."""
    case = get_case(session, case_id)
    if case.status == CaseStatus.WITHDRAWN:
        raise CaseWithdrawn(f"case {case_id} was withdrawn")
    return case


def once(case_id: int, key: StepKey, work: Callable[[Session, Case], T]) -> T | None:
    """Do a step's work in one transaction, unless the step is already done or skipped."""
    with about_case(case_id, flow_run.id), transaction() as session:
        case = open_case_of(session, case_id)
        if not claim_step(session, case_id, key):
            return None
        return work(session, case)


@task(name="skip_step", **STEP_OPTIONS)
async def skip_step(case_id: int, step_key: StepKey, reason: str) -> None:
    """Record that a step does not apply to this case, and why."""
    with transaction() as session:
        if claim_step(session, case_id, step_key):
            finish_step(session, case_id, step_key, outcome=reason, skipped=True)


@task(name="step_pending", **STEP_OPTIONS)
async def step_pending(case_id: int, step_key: StepKey) -> bool:
    """True while a step is neither done nor skipped (e.g. skipped at intake)."""
    with transaction() as session:
        return not step_is_settled(session, case_id, step_key)


@task(name="step_outcome", **STEP_OPTIONS)
async def step_outcome(case_id: int, step_key: StepKey) -> str:
    """What a step recorded (e.g. a letter sent to N parents, or refused and why)."""
    with transaction() as session:
        return get_step(session, case_id, step_key).outcome


@task(name="case_details", **STEP_OPTIONS)
async def case_details(case_id: int) -> dict[str, Any]:
    """The facts reported at intake that a procedure's branches depend on."""
    with transaction() as session:
        return dict(get_case(session, case_id).details or {})
