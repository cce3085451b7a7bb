"""The reconciler records a platform's missed deadline as the procedure's decision."""

from __future__ import annotations

from datetime import timedelta

from casework.reconciler import record_missed_platform_deadlines
from casework.settings import Settings
from db.models import Approval, CaseStep, Decision, IncidentType, StepStatus
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
