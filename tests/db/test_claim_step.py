"""A step is done once even if two processes ever run one case at the same moment."""

from __future__ import annotations

import threading
import time

from core.settings import Settings
from db.cases import claim_step, finish_step
from db.session import transaction
from tests.support import make_case


def test_a_second_runner_of_a_step_waits_and_then_finds_it_done(configured: Settings) -> None:
    case_id = make_case(configured.database_url)
    first_has_it = threading.Event()
    second: list[bool] = []

    def other_process() -> None:
        first_has_it.wait(10)
        with transaction() as session:
            second.append(claim_step(session, case_id, "advise_staff"))

    thread = threading.Thread(target=other_process)
    thread.start()
    with transaction() as session:
        assert claim_step(session, case_id, "advise_staff")
        first_has_it.set()
        time.sleep(0.3)  # the other process is now waiting for this step's row
        finish_step(session, case_id, "advise_staff", outcome="Advice sent.")
    thread.join(10)
    assert second == [False], "it waited for the first, then found the step done"


def test_a_run_started_twice_at_once_is_recorded_once(configured: Settings) -> None:
    """Two starters (two workers, or one and the reconciler) may both start a case's run
    (Prefect's idempotency key gives them the same run) and record it at the same moment."""
    from db.cases import set_flow_run
    from tests.support import audit_kinds

    case_id = make_case(configured.database_url)
    first_has_it = threading.Event()
    second: list[bool] = []

    def reconciler() -> None:
        first_has_it.wait(10)
        with transaction() as session:
            second.append(set_flow_run(session, case_id, "run-1"))

    thread = threading.Thread(target=reconciler)
    thread.start()
    with transaction() as session:
        assert set_flow_run(session, case_id, "run-1")
        first_has_it.set()
        time.sleep(0.3)
    thread.join(10)
    assert second == [False]
    assert audit_kinds(configured.database_url, case_id).count("flow.started") == 1
