"""A step is done once even if two processes ever run one case at the same moment."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from core.settings import Settings
from db.cases import claim_step, finish_step, set_flow_run
from db.session import Session, transaction
from tests.support import audit_kinds, make_case


def while_first_holds(
    first: Callable[[Session], None], second: Callable[[Session], bool]
) -> list[bool]:
    """Run `first` in a transaction and, from another thread as another process would,
    `second` in one of its own that starts while the first is still open; returns what the
    second found."""
    first_has_it = threading.Event()
    found: list[bool] = []

    def other_process() -> None:
        first_has_it.wait(10)
        with transaction() as session:
            found.append(second(session))

    thread = threading.Thread(target=other_process)
    thread.start()
    with transaction() as session:
        first(session)
        first_has_it.set()
        time.sleep(0.3)  # the other is now waiting for the rows this one holds
    thread.join(10)
    return found


def test_a_second_runner_of_a_step_waits_and_then_finds_it_done(configured: Settings) -> None:
    case_id = make_case(configured.database_url)

    def do_the_step(session: Session) -> None:
        assert claim_step(session, case_id, "advise_staff")
        finish_step(session, case_id, "advise_staff", outcome="Advice sent.")

    second = while_first_holds(do_the_step, lambda s: claim_step(s, case_id, "advise_staff"))
    assert second == [False], "it waited for the first, then found the step done"


def test_a_run_started_twice_at_once_is_recorded_once(configured: Settings) -> None:
    """Two starters (two workers, or one and the reconciler) may both start a case's run
    (Prefect's idempotency key gives them the same run) and record it at the same moment."""
    case_id = make_case(configured.database_url)

    def record(session: Session) -> None:
        assert set_flow_run(session, case_id, "run-1")

    second = while_first_holds(record, lambda s: set_flow_run(s, case_id, "run-1"))
    assert second == [False]
    assert audit_kinds(configured.database_url, case_id).count("flow.started") == 1
