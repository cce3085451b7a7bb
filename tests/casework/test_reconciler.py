"""The reconciler's repairs: a platform's missed deadline, a crashed flow run."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest
from sqlalchemy import select

from casework.reconciler import record_missed_platform_deadlines, restart_crashed_flows
from casework.settings import Settings
from db.models import (
    Approval,
    AuditEvent,
    Case,
    CaseStatus,
    CaseStep,
    Decision,
    IncidentType,
    StepStatus,
)
from db.session import transaction
from tests.support import audit_kinds, make_approval, make_case


def test_no_answer_by_the_deadline_is_recorded_once(configured: Settings) -> None:
    url = configured.database_url
    case_id = make_case(url, IncidentType.ONLINE_ABUSE)
    make_approval(url, case_id, step_key="platform_response", ttl=timedelta(hours=48))
    assert record_missed_platform_deadlines() == 0, "not due yet"
    with transaction(url) as session:
        approval = session.query(Approval).filter_by(case_id=case_id).one()
        approval.expires_at = approval.requested_at - timedelta(seconds=1)  # two days pass
    assert record_missed_platform_deadlines() == 1
    assert record_missed_platform_deadlines() == 0, "recorded once"
    with transaction(url) as session:
        approval = session.query(Approval).filter_by(case_id=case_id).one()
        step = session.query(CaseStep).filter_by(case_id=case_id, key="platform_response").one()
        assert approval.decision == Decision.NO_RESPONSE and approval.resumed_at is None
        assert step.status == StepStatus.DONE
        assert step.outcome == "No response from the platform was recorded by the deadline."
    assert audit_kinds(url, case_id)[-2:] == ["deadline.passed", "step.completed"]


def test_a_crashed_flow_is_restarted_but_not_for_ever(
    configured: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Prefect's side is a recording fake here; tests/e2e/test_crashed_runs.py uses the real one."""
    import casework.reconciler as reconciler

    url = configured.database_url
    crashed_id, closed_id = make_case(url), make_case(url)
    with transaction(url) as session:
        for case_id in (crashed_id, closed_id):
            session.get(Case, case_id).flow_run_id = str(uuid4())
        session.get(Case, closed_id).status = CaseStatus.CLOSED
        crashed_run = session.get(Case, crashed_id).flow_run_id
    asked: list[list[str]] = []
    restarted: list[str] = []

    def crashed(ids: list[str]) -> list[str]:
        asked.append(ids)
        return [crashed_run]

    monkeypatch.setattr(reconciler, "crashed_runs", crashed)
    monkeypatch.setattr(reconciler, "restart_case_flow", lambda run: restarted.append(run) or True)

    assert [restart_crashed_flows() for _ in range(4)] == [1, 1, 1, 0]
    assert asked[0] == [crashed_run], "only the runs of open cases are checked"
    assert restarted == [crashed_run] * reconciler.RESTARTS_PER_HOUR
    assert audit_kinds(url, crashed_id).count("flow.restarted") == 3

    with transaction(url) as session:  # an hour later it may be tried again
        for event in session.scalars(select(AuditEvent).where(AuditEvent.kind == "flow.restarted")):
            event.at -= timedelta(hours=1, minutes=1)
    assert restart_crashed_flows() == 1
