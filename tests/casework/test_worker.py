"""The worker: mail goes out whether or not this worker is the one making the reconciler's
pass (several workers on one PostgreSQL database take turns at that)."""

from __future__ import annotations

import asyncio

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
