"""Closing the case at the end of its procedure."""

from __future__ import annotations

from prefect import task

from core.enums import StepKey
from db.models import CaseStatus
from db.session import transaction
from flows.steps.base import STEP_OPTIONS, open_case_of
from services import lifecycle


@task(name=StepKey.CLOSE_CASE, **STEP_OPTIONS)
async def close(case_id: int, outcome: str) -> str:
    """Close the case and tell its reporter and lead (once)."""
    with transaction() as session:
        case = open_case_of(session, case_id)
        if case.status == CaseStatus.CLOSED:
            return case.outcome
        lifecycle.close(session, case, outcome)
        return outcome
