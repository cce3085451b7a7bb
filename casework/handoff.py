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
import threading
from dataclasses import dataclass
from datetime import timedelta

from core.logs import about_case
from db.approvals import awaiting_resume
from db.cases import open_without_run, unannounced
from db.election import Office, elected
from db.models import utcnow
from db.session import reading
from flows.trigger import Handed, deliver_decision, start_flow_safely
from services.lifecycle import announce, announce_many

log = logging.getLogger("casework.handoff")


def handoff_once() -> tuple[int, int]:
    """Tell the heads of new cases, start their flows and deliver stored decisions.

    Returns (handed on, still waiting): flows started and decisions delivered, and those that
    could not be yet. The heads are told first: their emails should not wait for Prefect.
    """
    done = handoff_pass()
    return done.handed, len(done.left)


# A decision this recent whose run is not paused yet is racing the run's own suspension (the
# person answered the emailed request before the run had finished pausing, which on a busy
# machine takes seconds): it is tried again at the quick pace rather than after the growing
# waits meant for one that is stuck. A decision Prefect fails on still backs off.
FRESH_SECONDS = 30.0


@dataclass(frozen=True)
class Pass:
    """What one pass of the hand-off did: how much it handed on, what is left (named as
    `waiting_work` names it), and whether any of that is a fresh decision to try again soon."""

    handed: int
    left: frozenset[str]
    soon: bool


def handoff_pass() -> Pass:
    """`handoff_once`, saying what was left and whether it should be tried again soon.

    One worker at a time hands on: every worker is woken by the same new case or decision,
    and two going down the same list would ask Prefect for everything twice (the second
    resume of a run fails at Prefect's server). A worker whose turn it is not does nothing.
    """
    with elected(Office.HANDOFF) as ours:
        return _hand_on() if ours else Pass(0, frozenset(), soon=False)


def _hand_on() -> Pass:
    with reading() as session:
        new_cases = open_without_run(session)
        decided = [(a.id, a.decided_at) for a in awaiting_resume(session)]
    # Asked after the new cases, so each of them is told before its flow starts (a case
    # committed in between is told now and started next time round).
    announce_new_cases()
    left = {case_key(c) for c, kind in new_cases if not start_flow_safely(c, kind)}
    fresh_since = utcnow() - timedelta(seconds=FRESH_SECONDS)
    soon = False
    for approval_id, decided_at in decided:
        outcome = deliver_decision(approval_id)
        if not outcome:
            left.add(decision_key(approval_id))
        fresh = decided_at is not None and decided_at > fresh_since
        soon = soon or (outcome is Handed.NOT_YET and fresh)
    handed = len(new_cases) + len(decided) - len(left)
    return Pass(handed, frozenset(left), soon)


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


# The announcer and the hand-off are woken together by a new case; whichever comes second
# waits here and then finds the case told, rather than rendering its emails a second time
# only to lose the claim on the step. Another worker's announcer, woken by the same case,
# stands aside while this one tells (Office.TELLING).
_telling = threading.Lock()


def announce_new_cases() -> None:
    """Tell the head of every new case not yet told: one pass of the worker's announcer
    loop, which runs beside the hand-off so a burst's calls to Prefect never delay a notice
    (`handoff_pass` also tells them, just before it starts their flows)."""
    with _telling, elected(Office.TELLING) as ours:
        if not ours:
            return  # another worker is telling them now
        with reading() as session:
            untold = unannounced(session)
        announce_all(untold)


# Cases told in one transaction: enough for a burst of reports, short enough that the
# reports' own writes, waiting behind it for SQLite's lock, wait only a moment.
ANNOUNCE_BATCH = 20


def announce_all(case_ids: list[int]) -> None:
    """Tell the heads of these new cases, a batch at a time; a batch that fails is told again
    case by case, so one case that cannot be told holds up no other (its flow's first step
    tells it)."""
    for start in range(0, len(case_ids), ANNOUNCE_BATCH):
        batch = case_ids[start : start + ANNOUNCE_BATCH]
        try:
            announce_many(batch)
        except Exception:
            for case_id in batch:
                with about_case(case_id):
                    try:
                        announce(case_id)
                    except Exception:
                        log.exception("case %s: the head could not be told yet", case_id)


def next_wait(
    quick: float, longest: float, previous: float, handed: int, waiting: int, soon: bool = False
) -> float:
    """How long the loop sleeps: `quick` after progress, with nothing waiting or with a fresh
    decision to try again `soon`, otherwise twice its last sleep, up to `longest`."""
    if handed or soon or not waiting:
        return quick
    return min(max(previous, quick) * 2, longest)
