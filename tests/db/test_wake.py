"""Waking the worker (db/wake.py): new work signals once it commits, and only then."""

from __future__ import annotations

from sqlalchemy import select

from core.enums import Decision
from core.settings import Settings
from core.templating import RenderedEmail
from db.approvals import claim_decision
from db.models import Approval
from db.outbox import queue_email
from db.session import transaction
from db.wake import Work, WorkSignal
from tests.support import make_approval, make_case

NOTE = RenderedEmail(subject="A note", text="Hello.\n", html="<p>Hello.</p>")


def test_queued_mail_a_new_case_and_a_decision_each_wake_the_worker_for_their_kind(
    configured: Settings,
) -> None:
    url = configured.database_url
    signal = WorkSignal(url)
    try:
        assert not signal.wait(0.2), "nothing has happened yet"
        with transaction() as session:
            queue_email(session, dedup_key="note:1", to="a@b.example", email=NOTE, kind="note")
        assert signal.wait(5) == {Work.MAIL}, "queued mail: the sender's work alone"
        case_id = make_case(url)
        assert Work.CASE in signal.wait(5), "a new case"
        make_approval(url, case_id)
        signal.wait(0.2)  # whatever opening the request queued
        with transaction() as session:
            approval_id = session.scalars(
                select(Approval.id).where(Approval.case_id == case_id)
            ).one()
            won = claim_decision(
                session,
                approval_id,
                decision=Decision.APPROVED,
                reason="",
                response={},
                ip="127.0.0.1",
                user_agent="test",
            )
        assert won
        assert Work.DECISION in signal.wait(5), "a decision"
        assert not signal.wait(0.2), "each signal is taken once"
    finally:
        signal.close()


def test_work_rolled_back_wakes_nobody(configured: Settings) -> None:
    signal = WorkSignal(configured.database_url)
    try:
        try:
            with transaction() as session:
                queue_email(session, dedup_key="note:2", to="a@b.example", email=NOTE, kind="note")
                raise LookupError("the unit of work fails after queueing")
        except LookupError:
            pass
        assert not signal.wait(0.3)
        with transaction() as session:
            queue_email(session, dedup_key="note:3", to="a@b.example", email=NOTE, kind="note")
        assert signal.wait(5) == {Work.MAIL}, "the next committed one still wakes it"
    finally:
        signal.close()
