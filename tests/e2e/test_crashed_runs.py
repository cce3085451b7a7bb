"""A flow run whose process dies is run again, and the case carries on as if nothing happened.

Stopping or killing the runner just after a run has suspended leaves the run CRASHED
("Execution was aborted by a termination signal"): the run's own process reports the signal
after the suspension; a runner told to stop while a run is mid-step cancels that run instead
("Runner is shutting down."). These tests put a run in those states through the Prefect API,
at the two moments a person's answer can meet it: before the answer arrives and after.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import httpx
import pytest
from prefect.settings import PREFECT_API_URL, temporary_settings
from sqlalchemy import select

from db.models import AuditEvent, Case, CaseStatus
from db.session import transaction
from flows.trigger import HEARTBEAT, mark_crashed, silent_runs
from tests.e2e.flow_helpers import wait_closed
from tests.e2e.test_pupil_contact import (
    DSL,
    HEAD,
    approval_mail,
    assert_no_duplicate_mail,
    do_tasks,
    fifty_letters,
    open_case,
    respond,
)
from tests.stack import Stack
from tests.support import (
    audit_kinds,
    case_row,
    csrf_of,
    emailed_code,
    link_in,
    mail_to,
    signin,
    wait_until,
)

pytestmark = pytest.mark.e2e


def crash(stack: Stack, run_id: str) -> None:
    """Put the run in the state a terminated runner leaves it in."""
    end_run(stack, run_id, "CRASHED", "Execution was aborted by a termination signal.")


def end_run(stack: Stack, run_id: str, state: str, message: str) -> None:
    answer = httpx.post(
        f"{stack.prefect_api}/flow_runs/{run_id}/set_state",
        json={
            "state": {"type": state, "name": state.title(), "message": message},
            "force": True,
        },
        timeout=10,
    )
    answer.raise_for_status()
    # What Prefect answered, not a read afterwards: the reconciler may already have run
    # the ended run again (SCHEDULED) by the time the state is read back.
    taken = answer.json()
    assert taken["status"] == "ACCEPT" and taken["state"]["type"] == state, taken


def restarts(url: str, case_id: int) -> list[str]:
    """Why each restart of the case's run happened, in order."""
    with transaction(url) as session:
        events = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.case_id == case_id, AuditEvent.kind == "flow.restarted")
            .order_by(AuditEvent.seq)
        )
        return [str(e.data["after"]) for e in events]


def suspended(stack: Stack, run_id: str) -> None:
    stack.wait_for_state(run_id, "PAUSED")


def waiting_for_first_task(stack: Stack) -> tuple[int, Case, str, str]:
    """A new case whose run has suspended for the DSL's first task; the task's subject."""
    case_id, _ = open_case(stack)
    case = case_row(stack.db_url, case_id)
    first_task = f"{case.reference}: please record – Record whether"
    mail_to(stack.mail, DSL, first_task)
    run_id = wait_until(lambda: case_row(stack.db_url, case_id).flow_run_id, 30)
    suspended(stack, run_id)
    return case_id, case, run_id, first_task


def test_crashed_runs_are_run_again_without_asking_twice(stack: Stack) -> None:
    if not stack.db_url.startswith("sqlite"):
        pytest.skip(
            "what is tested here happens on the Prefect server; the reconciler's own queries "
            "run on both databases in tests/casework/test_reconciler.py"
        )
    case_id, case, run_id, first_task = waiting_for_first_task(stack)

    # Crashed while waiting for the DSL: the reconciler runs it again and it waits once more.
    crash(stack, run_id)
    wait_until(lambda: restarts(stack.db_url, case_id), 30, 0.5, "the restart")
    suspended(stack, run_id)
    # A runner told to stop cancels what it is running: the same as a crash for a case.
    end_run(stack, run_id, "CANCELLED", "Runner is shutting down.")
    wait_until(lambda: len(restarts(stack.db_url, case_id)) == 2, 30, 0.5, "the second restart")
    suspended(stack, run_id)
    asked = [m for m in stack.mail.all() if DSL in m.rcpt_tos and first_task in m.subject]
    assert len(asked) == 1, "the DSL is not asked a second time"

    do_tasks(stack, case.reference)
    review = link_in(approval_mail(stack, case.reference), "/approvals/")
    suspended(stack, run_id)

    # Crashed while waiting for the head: the worker, started again after the head's answer,
    # hands the decision to the crashed run, which starts it again (its hand-off comes first;
    # its reconciler's sweep would restart it too). The head asks for the confirmation code
    # before the worker stops: a stopped worker could not send it.
    with httpx.Client(timeout=30) as head:
        page = head.get(review)
        code = emailed_code(head, review, page.text, stack.mail, HEAD)
        stack.stop_worker()
        crash(stack, run_id)
        head.post(
            review,
            data={
                "decision": "approved",
                "reason": "",
                "code": code,
                "csrf_token": csrf_of(page.text),
            },
        ).raise_for_status()
    assert len(restarts(stack.db_url, case_id)) == 2, "the web app leaves the run to the worker"
    stack.start_worker()
    wait_closed(stack, case_id)

    assert case_row(stack.db_url, case_id).status == CaseStatus.CLOSED
    wait_until(lambda: stack.flow_run_state(run_id) == "COMPLETED", 30, 0.5, "the run to end")
    *before, last = restarts(stack.db_url, case_id)
    assert before == ["the run crashed", "the run crashed"], restarts(stack.db_url, case_id)
    assert last in ("decision on approve_parent_letter", "the run crashed"), "started once"
    assert len(fifty_letters(stack, case_id)) == 50
    assert_no_duplicate_mail(stack, case_id, case.reference)


def test_a_failed_procedure_is_shown_and_the_dsl_runs_it_again(stack: Stack) -> None:
    if not stack.db_url.startswith("sqlite"):
        pytest.skip("what is tested here happens on the Prefect server")
    case_id, case, run_id, first_task = waiting_for_first_task(stack)

    # A step's own error (after its retries): no automatic restart, a person is told.
    end_run(stack, run_id, "FAILED", "Flow run encountered an exception: OperationalError")
    with stack.client() as dsl:
        signin(dsl, DSL, stack.mail)
        page = wait_until(
            lambda: (lambda p: p if "procedure has stopped" in p.text else None)(
                dsl.get(f"/cases/{case_id}")
            ),
            30,
            0.5,
            "the case page to say the procedure stopped",
        )
        assert "OperationalError" in page.text
        told = mail_to(stack.mail, DSL, f"{case.reference}: its procedure has stopped")
        assert "OperationalError" not in told.raw, "the email only points to the case"
        assert stack.flow_run_state(run_id) == "FAILED", "a failed run is not rerun by itself"
        restarted = dsl.post(
            f"/cases/{case_id}/procedure/restart", data={"csrf_token": csrf_of(page.text)}
        )
        assert restarted.status_code == 303
        after = dsl.get(restarted.headers["location"])
        assert "running again" in after.text and "procedure has stopped" not in after.text

    suspended(stack, run_id)
    asked = [m for m in stack.mail.all() if DSL in m.rcpt_tos and first_task in m.subject]
    assert len(asked) == 1, "the DSL is not asked a second time"
    assert restarts(stack.db_url, case_id) == ["restarted by hand"]
    kinds = audit_kinds(stack.db_url, case_id)
    assert kinds.index("flow.stopped") < kinds.index("flow.restarted")

    respond(
        link_in(asked[0], "/tasks/"),
        {"pupil_persisted": "no", "reminder_given": "yes", "notes": "Spoke to the pupil."},
    )
    mail_to(stack.mail, DSL, f"{case.reference}: please record – Record the outcome")


def heartbeat(stack: Stack, run_id: str, at: datetime) -> None:
    """Send the server the heartbeat a live run's process sends."""
    event = {
        "id": str(uuid4()),
        "occurred": at.isoformat(),
        "event": HEARTBEAT,
        "resource": {"prefect.resource.id": f"prefect.flow-run.{run_id}"},
    }
    httpx.post(f"{stack.prefect_api}/events", json=[event], timeout=10).raise_for_status()


def test_a_run_left_running_by_a_killed_process_is_found_and_run_again(stack: Stack) -> None:
    """A runner killed outright leaves its run RUNNING with nobody to say otherwise: once
    it has sent no heartbeat for long enough it is taken as crashed and run again."""
    if not stack.db_url.startswith("sqlite"):
        pytest.skip("what is tested here happens on the Prefect server")
    case_id, _, run_id, first_task = waiting_for_first_task(stack)
    end_run(stack, run_id, "RUNNING", "")
    silence = timedelta(seconds=1)
    with temporary_settings({PREFECT_API_URL: stack.prefect_api}):
        time.sleep(1.2)
        assert silent_runs([run_id], silence) == [run_id], "running, and not a word since"
        # Dated ahead, so it still counts however long the server takes to store it.
        heartbeat(stack, run_id, datetime.now(UTC) + timedelta(minutes=5))
        wait_until(lambda: not silent_runs([run_id], silence), 20, 0.5, "the heartbeat")
        assert mark_crashed(run_id, silence), "Prefect took the run as crashed"
    # Not read back: the reconciler may already have run it again (SCHEDULED) by then; the
    # restart's reason below says it was seen as crashed.
    wait_until(lambda: restarts(stack.db_url, case_id), 30, 0.5, "the restart")
    suspended(stack, run_id)
    asked = [m for m in stack.mail.all() if DSL in m.rcpt_tos and first_task in m.subject]
    assert len(asked) == 1, "the DSL is not asked a second time"
    assert restarts(stack.db_url, case_id) == ["the run crashed"]
