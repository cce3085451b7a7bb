"""The worker's hand-off to Prefect: new cases' flows started, stored decisions delivered,
and a patient pace while nothing moves. Prefect's answers are recorded here; the stack's
end-to-end tests go through the real server."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from casework import handoff
from casework.handoff import announce_new_cases, handoff_once, handoff_pass, next_wait
from core.enums import EmailKind
from core.settings import Settings
from db.models import Approval, Case, Decision, OutboxMessage, utcnow
from db.session import transaction
from flows import trigger
from services import lifecycle
from tests.support import make_approval, make_case


def waiting_case(url: str) -> int:
    """A case whose run ("run-of-the-case") waits for the DSL's answer on persistence."""
    case_id = make_case(url)
    with transaction(url) as session:
        case = session.get(Case, case_id)
        assert case is not None
        case.flow_run_id = "run-of-the-case"
    make_approval(url, case_id, step_key="record_persistence", ttl=timedelta(days=1))
    return case_id


def test_a_stored_decision_reaches_its_waiting_run_once(
    configured: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = configured.database_url
    case_id = waiting_case(url)
    handed: list[tuple[str, str, dict[str, Any]]] = []

    def resume(run_id: str, step: str, run_input: dict[str, Any]) -> trigger.Delivery:
        handed.append((run_id, step, run_input))
        return trigger.Delivery.RESUMED

    monkeypatch.setattr(trigger, "resume_case_flow", resume)
    assert handoff_once() == (0, 0), "nothing is decided yet"
    with transaction(url) as session:
        approval = session.query(Approval).filter_by(case_id=case_id).one()
        approval.decision, approval.decided_at = Decision.COMPLETED, utcnow()
    assert handoff_once() == (1, 0)
    assert handoff_once() == (0, 0), "delivered once"
    assert [(run, step) for run, step, _ in handed] == [("run-of-the-case", "record_persistence")]


def test_two_workers_woken_for_one_decision_deliver_it_once(
    configured: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every worker on PostgreSQL is woken by the same decision: one hands it to Prefect
    while the other stands aside, instead of both resuming the run (the second fails)."""
    url = configured.database_url
    if url.startswith("sqlite"):
        pytest.skip("one machine's database has one worker")
    case_id = waiting_case(url)
    with transaction(url) as session:
        approval = session.query(Approval).filter_by(case_id=case_id).one()
        approval.decision, approval.decided_at = Decision.COMPLETED, utcnow()
    handed: list[str] = []

    def slow_resume(run_id: str, step: str, run_input: dict[str, Any]) -> trigger.Delivery:
        handed.append(run_id)
        time.sleep(0.3)  # Prefect's answer takes a while: the other worker is woken meanwhile
        return trigger.Delivery.RESUMED

    monkeypatch.setattr(trigger, "resume_case_flow", slow_resume)
    monkeypatch.setattr(handoff, "start_flow_safely", lambda case_id, kind: True)
    workers = [threading.Thread(target=handoff_pass) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert handed == ["run-of-the-case"]
    assert handoff_once() == (0, 0), "nothing left for either worker"


def test_while_nothing_moves_the_loop_asks_less_and_less_often() -> None:
    waits = [0.2]
    for _ in range(8):
        waits.append(next_wait(0.2, 10.0, waits[-1], handed=0, waiting=3))
    assert waits == [0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 10.0, 10.0, 10.0]
    assert next_wait(0.2, 10.0, 10.0, handed=1, waiting=2) == 0.2, "progress: quick again"
    assert next_wait(0.2, 10.0, 10.0, handed=0, waiting=0) == 0.2, "nothing waiting"


def test_a_new_case_woken_for_twice_at_once_is_rendered_once(
    configured: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The announcer and the hand-off wake together for a new case: the head gets one email,
    and the second of them finds the case told instead of rendering its emails again."""
    url = configured.database_url
    case_id = make_case(url)
    renders: list[int] = []
    real_render = lifecycle.new_case_notices

    def slow_render(session: Any, case: Case, reporter: Any) -> Any:
        renders.append(case.id)
        time.sleep(0.3)  # long enough for the other loop to reach the same case meanwhile
        return real_render(session, case, reporter)

    monkeypatch.setattr(lifecycle, "new_case_notices", slow_render)
    monkeypatch.setattr(handoff, "start_flow_safely", lambda case_id, kind: True)
    loops = [threading.Thread(target=handoff_pass), threading.Thread(target=announce_new_cases)]
    for loop in loops:
        loop.start()
    for loop in loops:
        loop.join()
    assert renders == [case_id]
    with transaction(url) as session:
        told = session.scalars(
            select(OutboxMessage.to_addr).where(
                OutboxMessage.case_id == case_id, OutboxMessage.kind == EmailKind.CASE_OPENED
            )
        ).all()
    assert len(told) == len(set(told)) >= 1


def told_cases(url: str) -> set[int]:
    """Cases whose 'new case' email is queued."""
    with transaction(url) as session:
        found = session.scalars(
            select(OutboxMessage.case_id).where(OutboxMessage.kind == EmailKind.CASE_OPENED)
        ).all()
    return {case_id for case_id in found if case_id is not None}


def test_a_burst_of_new_cases_is_told_in_one_write(
    configured: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a burst of reports every head is told, and the worker takes the database's
    write lock once for all of them rather than once a case."""
    url = configured.database_url
    cases = [make_case(url) for _ in range(5)]
    writes: list[int] = []
    real_transaction = lifecycle.transaction

    def counted(*args: Any, **kwargs: Any) -> Any:
        writes.append(1)
        return real_transaction(*args, **kwargs)

    monkeypatch.setattr(lifecycle, "transaction", counted)
    announce_new_cases()
    assert told_cases(url) >= set(cases)
    assert len(writes) == 1
    announce_new_cases()
    assert len(writes) == 1, "nothing left to tell, so nothing written"


def test_a_case_that_cannot_be_told_holds_up_no_other(
    configured: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = configured.database_url
    cases = [make_case(url) for _ in range(3)]
    real_render = lifecycle.new_case_notices

    def failing_for_one(session: Any, case: Case, reporter: Any) -> Any:
        if case.id == cases[1]:
            raise RuntimeError("the head's address cannot be read")
        return real_render(session, case, reporter)

    monkeypatch.setattr(lifecycle, "new_case_notices", failing_for_one)
    announce_new_cases()
    told = told_cases(url)
    assert cases[0] in told and cases[2] in told
    assert cases[1] not in told
    monkeypatch.setattr(lifecycle, "new_case_notices", real_render)
    announce_new_cases()
    assert cases[1] in told_cases(url), "told at the next pass once it can be"
