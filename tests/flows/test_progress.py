"""A resumed run passes over what was settled when it started, and only that."""

from __future__ import annotations

import asyncio

import pytest

from core.enums import Decision, StepKey
from core.settings import Settings
from db.approvals import claim_decision, for_step
from db.cases import finish_step, get_case
from db.models import CaseStatus
from db.session import transaction
from flows.steps.base import CaseWithdrawn
from flows.steps.progress import Progress, progress_at_start, read_progress
from tests.support import make_approval, make_case


def progress(case_id: int) -> Progress:
    """Run the task's code as the flow does, without a Prefect server."""
    return asyncio.run(read_progress.fn(case_id))


def test_settled_steps_and_decided_requests_are_read_together(configured: Settings) -> None:
    url = configured.database_url
    case_id = make_case(url)
    make_approval(url, case_id, step_key=StepKey.RECORD_PERSISTENCE)
    make_approval(url, case_id, step_key=StepKey.RECORD_DISCIPLINE)
    before = progress(case_id)
    assert StepKey.SAVE_EVIDENCE not in before.settled
    assert before.outcomes == {}, "nothing decided yet: every wait asks or suspends"

    with transaction(url) as session:
        finish_step(session, case_id, StepKey.SAVE_EVIDENCE, outcome="1 file(s) checked")
        asked = for_step(session, case_id, StepKey.RECORD_PERSISTENCE)
        assert asked is not None
        assert claim_decision(
            session,
            asked.id,
            decision=Decision.COMPLETED,
            reason="Reminded",
            response={"pupil_persisted": "yes"},
            ip="",
            user_agent="",
        )
    after = progress(case_id)

    assert StepKey.SAVE_EVIDENCE in after.settled
    decided = after.outcomes[StepKey.RECORD_PERSISTENCE]
    assert (decided.decision, decided.reason) == (Decision.COMPLETED, "Reminded")
    assert decided.answer("pupil_persisted") == "yes"
    assert StepKey.RECORD_DISCIPLINE not in after.outcomes, "asked but not answered"


def test_a_withdrawn_case_stops_its_run_here_as_at_every_step(configured: Settings) -> None:
    url = configured.database_url
    case_id = make_case(url)
    with transaction(url) as session:
        get_case(session, case_id).status = CaseStatus.WITHDRAWN
    with pytest.raises(CaseWithdrawn):
        progress(case_id)


def test_outside_a_flow_run_nothing_is_passed_over(configured: Settings) -> None:
    """Without a run to belong to, there is no snapshot: every step checks its own row."""
    case_id = make_case(configured.database_url)
    assert asyncio.run(progress_at_start(case_id)) == Progress()
