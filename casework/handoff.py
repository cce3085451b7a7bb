"""Handing work on: the worker's quick loop, so the web app never calls Prefect.

A report is answered once its case is committed; a decision once it is stored. Creating the
case's flow run and resuming a run with its decision are calls to Prefect's server, which
under a burst could take seconds, so the web app leaves both here: every
`handoff_seconds` the worker tells the head of each new case (the emails are rendered and
queued here, not in the report's request, which keeps the web app's share of a report
small), then starts the flows of new cases and delivers stored decisions (all safe to
repeat, so every worker may run this loop). While what is waiting makes no
progress (Prefect down, or a run still on its way to suspending) the loop waits twice as
long each time, up to `reconcile_seconds`, rather than asking several times a second; but
it looks every `handoff_seconds` for work that was not there before, so a new case or a new
decision is never held up by one that is stuck.
"""

from __future__ import annotations

import logging

from core.logs import about_case
from db.approvals import awaiting_resume
from db.cases import open_without_run, unannounced
from db.session import reading
from flows.trigger import deliver_decision, start_flow_safely
from services.lifecycle import announce

log = logging.getLogger("casework.handoff")


def handoff_once() -> tuple[int, int]:
    """Tell the heads of new cases, start their flows and deliver stored decisions.

    Returns (handed on, still waiting): flows started and decisions delivered, and those that
    could not be yet. The heads are told first: their emails should not wait for Prefect.
    """
    handed, left = handoff_pass()
    return handed, len(left)


def handoff_pass() -> tuple[int, frozenset[str]]:
    """`handoff_once`, naming what could not be handed on yet as `waiting_work` does."""
    with reading() as session:
        new_cases = open_without_run(session)
        decided = [approval.id for approval in awaiting_resume(session)]
        # Asked after the new cases, so each of them is told before its flow starts (a case
        # committed in between is told now and started next time round).
        untold = unannounced(session)
    announce_all(untold)
    left = {case_key(c) for c, kind in new_cases if not start_flow_safely(c, kind)}
    left |= {decision_key(a) for a in decided if not deliver_decision(a)}
    handed = len(new_cases) + len(decided) - len(left)
    return handed, frozenset(left)


def case_key(case_id: int) -> str:
    return f"case {case_id}"


def decision_key(approval_id: int) -> str:
    return f"decision {approval_id}"


def waiting_work() -> frozenset[str]:
    """What the hand-off has before it now: new cases to start and decisions to deliver."""
    with reading() as session:
        cases = [case_key(case_id) for case_id, _ in open_without_run(session)]
        decisions = [decision_key(approval.id) for approval in awaiting_resume(session)]
    return frozenset(cases + decisions)


def announce_new_cases() -> None:
    """Tell the head of every new case not yet told: one pass of the worker's announcer
    loop, which runs beside the hand-off so a burst's calls to Prefect never delay a notice
    (`handoff_pass` also tells them, just before it starts their flows)."""
    with reading() as session:
        untold = unannounced(session)
    announce_all(untold)


def announce_all(case_ids: list[int]) -> None:
    """Tell the heads of these new cases; one that fails is told by its flow's first step."""
    for case_id in case_ids:
        with about_case(case_id):
            try:
                announce(case_id)
            except Exception:
                log.exception("case %s: the head could not be told yet", case_id)


def next_wait(quick: float, longest: float, previous: float, handed: int, waiting: int) -> float:
    """How long the loop sleeps: `quick` after progress or with nothing waiting, otherwise
    twice its last sleep, up to `longest`."""
    if handed or not waiting:
        return quick
    return min(max(previous, quick) * 2, longest)
