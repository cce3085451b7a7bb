"""Handing work to Prefect: the worker's quick loop, so the web app never calls Prefect.

A report is answered once its case is committed; a decision once it is stored. Creating the
case's flow run and resuming a run with its decision are calls to Prefect's server, which
under a burst could take seconds, so the web app leaves both here: every
`handoff_seconds` the worker starts the flows of new cases and delivers stored decisions
(both safe to repeat, so every worker may run this loop). While what is waiting makes no
progress (Prefect down, or a run still on its way to suspending) the loop waits twice as
long each time, up to `reconcile_seconds`, rather than asking several times a second.
"""

from __future__ import annotations

from db.approvals import awaiting_resume
from db.cases import open_without_run
from db.session import reading
from flows.trigger import deliver_decision, start_flow_safely


def handoff_once() -> tuple[int, int]:
    """Start new cases' flows and deliver stored decisions.

    Returns (handed on, still waiting): flows started and decisions delivered, and those that
    could not be yet.
    """
    with reading() as session:
        new_cases = open_without_run(session)
        decided = [approval.id for approval in awaiting_resume(session)]
    started = sum(start_flow_safely(case_id, kind) for case_id, kind in new_cases)
    delivered = sum(deliver_decision(approval_id) for approval_id in decided)
    handed = started + delivered
    return handed, len(new_cases) + len(decided) - handed


def next_wait(quick: float, longest: float, previous: float, handed: int, waiting: int) -> float:
    """How long the loop sleeps: `quick` after progress or with nothing waiting, otherwise
    twice its last sleep, up to `longest`."""
    if handed or not waiting:
        return quick
    return min(max(previous, quick) * 2, longest)
