"""The worker: mail goes out whether or not this worker is the one making the reconciler's
pass (several workers on one PostgreSQL database take turns at that)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

import casework.reconciler as reconciler
from core.settings import Settings
from core.templating import RenderedEmail
from db.election import Office, elected
from db.outbox import queue_email
from db.session import transaction
from mail.catcher import MailStore
from tests.support import wait_until

NOTE = RenderedEmail(subject="A note", text="Hello.\n", html="<p>Hello.</p>")


async def test_a_worker_not_elected_still_sends_mail(
    configured: Settings, smtp: tuple[MailStore, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    from casework.worker import run_worker

    passes: list[int] = []
    monkeypatch.setattr(reconciler, "reconcile_once", lambda: passes.append(1))
    monkeypatch.setattr(configured, "reconcile_seconds", 0.05)
    with transaction() as session:
        queue_email(session, dedup_key="note:1", to="a@b.example", email=NOTE, kind="note")
    on_postgres = configured.database_url.startswith("postgresql")
    # This test process holds the office, as another machine's worker would.
    with elected(Office.RECONCILER) as held:
        assert held
        stop = asyncio.Event()
        worker = asyncio.create_task(run_worker(stop, idle_seconds=0.05))
        await asyncio.to_thread(wait_until, lambda: smtp[0].all(), 20, 0.1, "the note")
        await asyncio.sleep(0.3)  # a few of the reconciler's turns
        stop.set()
        await worker
    assert [m.subject for m in smtp[0].all()] == ["A note"]
    assert bool(passes) != on_postgres, "on PostgreSQL the other holder makes every pass"


async def test_the_head_is_told_of_a_new_case_while_prefect_keeps_the_hand_off_waiting(
    configured: Settings, smtp: tuple[MailStore, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Under a burst each flow's start can take seconds at Prefect's server; the head's
    email about a new case does not wait behind them."""
    import threading

    from casework.worker import run_worker
    from flows import trigger
    from tests.support import make_case

    prefect_answers = threading.Event()

    def slow_start(case_id: int, kind: object) -> str:
        prefect_answers.wait(30)
        raise RuntimeError("Prefect's server did not answer")

    monkeypatch.setattr(trigger, "start_case_flow", slow_start)
    monkeypatch.setattr(reconciler, "reconcile_once", lambda: None)
    first = make_case(configured.database_url)
    stop = asyncio.Event()
    worker = asyncio.create_task(run_worker(stop, idle_seconds=0.05))
    try:
        # The hand-off is now stuck starting the first case's flow; a second case arrives.
        await asyncio.sleep(0.5)
        second = make_case(configured.database_url)

        def both_told() -> bool:
            """The head and the lead have each case's new-case email."""
            links = [link for m in smtp[0].all() for link in m.links]
            return all(links.count(f"http://testserver/cases/{c}") == 2 for c in (first, second))

        await asyncio.to_thread(wait_until, both_told, 10, 0.1, "the new-case emails")
        assert not prefect_answers.is_set(), "told while the hand-off still waited"
    finally:
        prefect_answers.set()
        stop.set()
        await worker


async def test_a_decision_that_cannot_be_delivered_does_not_hold_up_a_new_case(
    configured: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While one stored decision keeps failing (its run not there to resume), the hand-off
    asks about it less and less often; a case reported meanwhile still starts at once."""
    import time
    from datetime import timedelta

    from casework.worker import run_worker
    from db.models import Approval, Case, Decision, utcnow
    from flows import trigger
    from tests.support import make_approval, make_case

    url = configured.database_url
    stuck_case = make_case(url)
    make_approval(url, stuck_case, step_key="record_persistence", ttl=timedelta(days=1))
    with transaction(url) as session:
        case = session.get(Case, stuck_case)
        assert case is not None
        case.flow_run_id = "a-run-prefect-cannot-find"
        approval = session.query(Approval).filter_by(case_id=stuck_case).one()
        approval.decision, approval.decided_at = Decision.COMPLETED, utcnow()
    tries: list[float] = []

    def never_ready(run_id: str, step: str, run_input: object) -> trigger.Delivery:
        tries.append(time.monotonic())
        raise RuntimeError("Prefect's server is not answering for this run")

    started: dict[int, float] = {}

    def start(case_id: int, kind: object) -> str:
        started[case_id] = time.monotonic()
        return f"run-{case_id}"

    monkeypatch.setattr(trigger, "resume_case_flow", never_ready)
    monkeypatch.setattr(trigger, "start_case_flow", start)
    monkeypatch.setattr(reconciler, "reconcile_once", lambda: None)
    monkeypatch.setattr(configured, "reconcile_seconds", 60.0)
    stop = asyncio.Event()
    worker = asyncio.create_task(run_worker(stop, idle_seconds=0.05))
    try:
        await asyncio.sleep(4)  # the waits after each failure: 0.4, 0.8, 1.6, 3.2, 6.4 s ...
        assert 3 <= len(tries) <= 6, "the stuck decision is asked about less and less often"
        reported = time.monotonic()
        new_case = make_case(url)
        await asyncio.to_thread(wait_until, lambda: new_case in started, 10, 0.05, "the start")
        assert started[new_case] - reported < 1.5, "the new case did not wait for the backoff"
    finally:
        stop.set()
        await worker


async def test_a_new_decision_is_tried_again_in_moments_while_another_is_stuck(
    configured: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A decision stored a moment before its run has suspended is refused once; it is tried
    again at the hand-off's own short pace, not after the long wait of a stuck one."""
    import time

    from casework.worker import run_worker
    from flows import trigger

    url = configured.database_url

    def stored_decision(run_id: str) -> int:
        return store_decision(url, run_id)

    refused: dict[str, int] = {}
    delivered: dict[str, float] = {}

    def resume(run_id: str, step: str, run_input: object) -> trigger.Delivery:
        if run_id == "stuck" or refused.setdefault(run_id, 0) < 1:
            refused[run_id] = refused.get(run_id, 0) + 1
            raise trigger.FlowNotReady("the run is not suspended yet")
        delivered[run_id] = time.monotonic()
        return trigger.Delivery.RESUMED

    monkeypatch.setattr(trigger, "resume_case_flow", resume)
    monkeypatch.setattr(reconciler, "reconcile_once", lambda: None)
    monkeypatch.setattr(configured, "reconcile_seconds", 60.0)
    stored_decision("stuck")
    stop = asyncio.Event()
    worker = asyncio.create_task(run_worker(stop, idle_seconds=0.05))
    try:
        await asyncio.sleep(4)  # the stuck decision's waits have grown to seconds
        stored = time.monotonic()
        stored_decision("fresh")
        await asyncio.to_thread(wait_until, lambda: "fresh" in delivered, 15, 0.05, "delivery")
        assert refused["fresh"] == 1, "refused once, while its run was on its way"
        assert delivered["fresh"] - stored < 2.0, "tried again in moments"
    finally:
        stop.set()
        await worker


def store_decision(url: str, run_id: str) -> int:
    """A case whose run `run_id` waits on a request, and that request's decision, stored."""
    from datetime import timedelta

    from db.models import Approval, Case, Decision, utcnow
    from tests.support import make_approval, make_case

    case_id = make_case(url)
    make_approval(url, case_id, step_key="record_persistence", ttl=timedelta(days=1))
    with transaction(url) as session:
        case = session.get(Case, case_id)
        assert case is not None
        case.flow_run_id = run_id
        approval = session.query(Approval).filter_by(case_id=case_id).one()
        approval.decision, approval.decided_at = Decision.COMPLETED, utcnow()
        return approval.id


async def test_a_decision_whose_run_takes_seconds_to_suspend_goes_in_moments_once_it_has(
    configured: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a busy machine a run can take seconds to pause after asking; a decision that
    arrives meanwhile is turned away until then. It is tried again at the quick pace, so
    it reaches the run within moments of it pausing, not after waits that grew meanwhile
    (the first hop after a start took 15.8 s that way)."""
    import time

    from casework.worker import run_worker
    from flows import trigger

    suspended_at = time.monotonic() + 4.0  # the waits would have grown to 3.2 s by then
    delivered: list[float] = []

    def resume(run_id: str, step: str, run_input: object) -> trigger.Delivery:
        if time.monotonic() < suspended_at:
            raise trigger.FlowNotReady("the run is not suspended yet")
        delivered.append(time.monotonic())
        return trigger.Delivery.RESUMED

    monkeypatch.setattr(trigger, "resume_case_flow", resume)
    monkeypatch.setattr(reconciler, "reconcile_once", lambda: None)
    monkeypatch.setattr(configured, "reconcile_seconds", 60.0)
    store_decision(configured.database_url, "pausing")
    stop = asyncio.Event()
    worker = asyncio.create_task(run_worker(stop, idle_seconds=0.05))
    try:
        await asyncio.to_thread(wait_until, lambda: bool(delivered), 20, 0.05, "delivery")
        assert delivered[0] - suspended_at < 1.0, "delivered within moments of the pause"
    finally:
        stop.set()
        await worker


async def test_a_new_case_wakes_the_worker_however_long_its_polls(
    configured: Settings, smtp: tuple[MailStore, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With every poll of the worker set to a minute, a case opened while it waits is still
    told to its head and its flow started within moments: opening it wakes the worker."""
    import casework.sending as sending
    from casework.worker import run_worker
    from flows import trigger
    from tests.support import make_case

    started: list[int] = []

    def start(case_id: int, kind: object) -> str:
        started.append(case_id)
        return f"run-{case_id}"

    monkeypatch.setattr(trigger, "start_case_flow", start)
    monkeypatch.setattr(reconciler, "reconcile_once", lambda: None)
    monkeypatch.setattr(configured, "handoff_seconds", 60.0)
    monkeypatch.setattr(sending, "PEEK_SECONDS", 60.0)

    def told(case_id: int) -> bool:
        links = [link for m in smtp[0].all() for link in m.links]
        return links.count(f"http://testserver/cases/{case_id}") == 2 and case_id in started

    first = make_case(configured.database_url)
    stop = asyncio.Event()
    worker = asyncio.create_task(run_worker(stop, idle_seconds=60.0))
    try:
        # The first case is taken by the worker's first passes; it then waits a minute.
        await asyncio.to_thread(wait_until, lambda: told(first), 20, 0.05, "the first case")
        second = make_case(configured.database_url)
        await asyncio.to_thread(wait_until, lambda: told(second), 10, 0.05, "the second case")
    finally:
        stop.set()
        await worker


async def test_mail_wakes_the_sender_and_not_the_hand_off(
    configured: Settings, smtp: tuple[MailStore, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every step of every flow queues mail: the hand-off and the announcer, which have
    nothing to do with it, are not woken by it (each pass of theirs asks the database and,
    on several machines, for an office), while the sender sends it at once."""
    import casework.sending as sending
    import casework.worker as worker_module

    passes: list[str] = []

    def counted(name: str, real: Any) -> Any:
        def run() -> Any:
            passes.append(name)
            return real()

        return run

    monkeypatch.setattr(
        worker_module, "handoff_pass", counted("hand-off", worker_module.handoff_pass)
    )
    monkeypatch.setattr(
        worker_module, "announce_new_cases", counted("announcer", worker_module.announce_new_cases)
    )
    monkeypatch.setattr(reconciler, "reconcile_once", lambda: None)
    monkeypatch.setattr(configured, "handoff_seconds", 60.0)
    monkeypatch.setattr(sending, "PEEK_SECONDS", 60.0)
    stop = asyncio.Event()
    worker = asyncio.create_task(worker_module.run_worker(stop, idle_seconds=60.0))
    try:
        await asyncio.to_thread(wait_until, lambda: len(passes) >= 2, 20, 0.05, "first passes")
        await asyncio.sleep(0.5)
        before = len(passes)
        for n in range(5):
            with transaction() as session:
                queue_email(
                    session, dedup_key=f"note:{n}", to="a@b.example", email=NOTE, kind="note"
                )
            await asyncio.to_thread(
                wait_until, lambda n=n: len(smtp[0].all()) > n, 10, 0.05, "mail"
            )
    finally:
        stop.set()
        await worker
    assert len(smtp[0].all()) == 5, "the sender was woken for each"
    assert passes[before:] == [], "neither the hand-off nor the announcer was woken by mail"
