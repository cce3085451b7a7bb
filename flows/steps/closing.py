"""Closing the case at the end of its procedure."""

from __future__ import annotations

from prefect import task

from core.enums import StepKey
from db.cases import get_case
from db.models import CaseStatus
from db.session import transaction
from flows.steps.base import STEP_OPTIONS
from services import lifecycle


@task(name=StepKey.CLOSE_CASE, **STEP_OPTIONS)
async def close(case_id: int, outcome: str) -> str:
    """Close the case and tell its reporter and lead (once)."""
    with transaction() as session:
        case = get_case(session, case_id)
        if case.status == CaseStatus.CLOSED:
            return case.outcome
        lifecycle.close(session, case, outcome)
        return outcome
