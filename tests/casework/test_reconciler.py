"""The reconciler's repairs: a platform's missed deadline, a crashed flow run."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest
from prefect.client.schemas.objects import StateType
from sqlalchemy import select

from casework.reconciler import look_after_stopped_flows, record_missed_platform_deadlines
from core.settings import Settings
from db.audit import procedure_stopped
from db.models import (
    Approval,
    Case,
    CaseStatus,
    CaseStep,
    Decision,
    IncidentType,
    OutboxMessage,
    StepStatus,
    utcnow,
)
from db.session import transaction
from flows.trigger import StoppedRun, record_restart
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


def open_runs(url: str, how_many: int, closed: int = 0) -> list[tuple[int, str]]:
    """Cases with a flow run each; the last `closed` of them closed."""
    made = []
    for n in range(how_many):
        case_id = make_case(url)
        with transaction(url) as session:
            case = session.get(Case, case_id)
            assert case is not None
            case.flow_run_id = str(uuid4())
            if n >= how_many - closed:
                case.status = CaseStatus.CLOSED
            made.append((case_id, case.flow_run_id))
    return made


def emails_of(url: str, case_id: int, kind: str) -> dict[str, str]:
    """Each recipient of the case's emails of `kind`, with the last subject they got."""
    with transaction(url) as session:
        rows = session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.case_id == case_id, OutboxMessage.kind == kind
            )
        )
        return {row.to_addr: row.subject for row in rows}


def case_reference(url: str, case_id: int) -> str:
    with transaction(url) as session:
        return session.get(Case, case_id).reference  # type: ignore[union-attr]


class FakePrefect:
    """Prefect's side as a recording fake; tests/e2e/test_crashed_runs.py uses the real one."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import casework.reconciler as reconciler

        self.stopped: list[StoppedRun] = []
        self.asked: list[list[str]] = []
        self.restarted: list[str] = []
        self.silent: list[str] = []  # running, but their process has gone
        self.silences: list[timedelta] = []
        monkeypatch.setattr(reconciler, "stopped_runs", self.stopped_runs)
        monkeypatch.setattr(reconciler, "restart_case_flow", self.restart)
        monkeypatch.setattr(reconciler, "silent_runs", self.silent_runs)
        monkeypatch.setattr(reconciler, "mark_crashed", self.mark_crashed)

    def silent_runs(self, ids: list[str], silence: timedelta) -> list[str]:
        self.silences.append(silence)
        return [run_id for run_id in self.silent if run_id in ids]

    def mark_crashed(self, run_id: str, silence: timedelta) -> bool:
        self.silent.remove(run_id)
        self.stopped.append(stopped(run_id, StateType.CRASHED))
        return True

    def stopped_runs(self, ids: list[str]) -> list[StoppedRun]:
        self.asked.append(ids)
        return [run for run in self.stopped if run.flow_run_id in ids]

    def restart(self, run_id: str) -> bool:
        self.restarted.append(run_id)
        return True


def stopped(run_id: str, state: StateType, since: str = "2026-11-30T10:00:00+00:00") -> StoppedRun:
    return StoppedRun(run_id, state, "Flow run encountered an exception: boom", since)


def test_a_crashed_flow_is_restarted_but_not_for_ever(
    configured: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = configured.database_url
    (case_id, run_id), (_, closed_run) = open_runs(url, 2, closed=1)
    prefect = FakePrefect(monkeypatch)
    prefect.stopped = [stopped(run_id, StateType.CRASHED), stopped(closed_run, StateType.CRASHED)]

    assert [look_after_stopped_flows() for _ in range(4)] == [1, 1, 1, 0]
    assert prefect.asked[0] == [run_id], "only the runs of open cases are checked"
    assert prefect.restarted == [run_id] * 3
    kinds = audit_kinds(url, case_id, skip=("email.",))
    assert kinds.count("flow.restarted") == 3
    assert kinds[-1] == "flow.stopped", "after three crashes in an hour a person is asked"
    with transaction(url) as session:
        assert procedure_stopped(session, case_id) is not None

    # An hour later it may be tried again (the trail cannot be back-dated: move the clock).
    later = utcnow() + timedelta(hours=1, minutes=1)
    monkeypatch.setattr("casework.reconciler.utcnow", lambda: later)
    assert look_after_stopped_flows() == 1
    with transaction(url) as session:
        assert procedure_stopped(session, case_id) is None, "running again"


def test_a_failed_flow_is_flagged_once_per_stop_and_never_restarted(
    configured: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = configured.database_url
    [(case_id, run_id)] = open_runs(url, 1)
    prefect = FakePrefect(monkeypatch)
    prefect.stopped = [stopped(run_id, StateType.FAILED)]

    assert look_after_stopped_flows() == 0
    assert look_after_stopped_flows() == 0
    assert prefect.restarted == []
    with transaction(url) as session:
        flagged = procedure_stopped(session, case_id)
        assert flagged is not None
        assert flagged.data["state"] == "failed" and "boom" in flagged.data["message"]
    assert audit_kinds(url, case_id).count("flow.stopped") == 1, "flagged once"
    told = emails_of(url, case_id, "procedure_stopped")
    assert sorted(told) == ["dsl@oakfield.example", "head@oakfield.example"], "lead and head, once"
    assert all(case_reference(url, case_id) in subject for subject in told.values())

    prefect.stopped = [stopped(run_id, StateType.CANCELLED, since="2026-11-30T11:00:00+00:00")]
    look_after_stopped_flows()
    assert audit_kinds(url, case_id).count("flow.stopped") == 2, "a new stop is a new flag"
    assert len(emails_of(url, case_id, "procedure_stopped")) == 2, "one email each per stop"


def test_a_stop_read_before_the_dsl_ran_the_procedure_again_is_not_flagged_again(
    configured: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reconciler reads stops from Prefect outside its transaction: a restart may land
    in between, and the case page must then say the procedure is running again."""
    url = configured.database_url
    [(case_id, run_id)] = open_runs(url, 1)
    prefect = FakePrefect(monkeypatch)
    prefect.stopped = [stopped(run_id, StateType.FAILED)]
    look_after_stopped_flows()
    with transaction(url) as session:
        record_restart(session, case_id, run_id, "restarted by hand")

    look_after_stopped_flows()  # Prefect's answer still the stop from before the restart

    with transaction(url) as session:
        assert procedure_stopped(session, case_id) is None, "running again"
    assert audit_kinds(url, case_id).count("flow.stopped") == 1
    assert len(emails_of(url, case_id, "procedure_stopped")) == 2, "nobody told twice"


def test_a_run_whose_process_died_silently_is_taken_as_crashed_and_run_again(
    configured: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A runner killed outright (or its machine lost) leaves its runs RUNNING for good;
    three heartbeats missed (90 s by default) and the run is crashed, then run again."""
    url = configured.database_url
    [(case_id, run_id)] = open_runs(url, 1)
    prefect = FakePrefect(monkeypatch)
    prefect.silent = [run_id]

    assert look_after_stopped_flows() == 1
    assert prefect.silences == [timedelta(seconds=90)]
    assert prefect.restarted == [run_id], "crashed and restarted in the same pass"
    assert audit_kinds(url, case_id)[-1] == "flow.restarted"
    assert prefect.silent == [], "marked crashed once"
