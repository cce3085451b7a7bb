"""Keeping Prefect in step with our database, which is the source of truth.

Repairs, all safe to repeat (starting new cases' flows and delivering stored decisions are
the hand-off's, casework/handoff.py): run again a flow whose process died (a runner stopped
or killed mid-run); record that a platform missed its deadline to answer, which the
procedure treats as a decision; remind whoever has left a request waiting, with a fresh
link; and, once the reminders have gone unanswered too, send the request up the school's
escalation chain. Now and then it also emails each chair of governors the report of the term
just ended (casework/governors.py).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from casework.governors import governors_reports_now_and_then
from core.enums import AuditKind, Decision, EmailKind, StepKey
from core.procedures import DEADLINE_STEPS
from core.settings import get_settings
from db.approvals import due_for_escalation, due_for_reminder, overdue
from db.audit import count_since, record_event, stop_recorded
from db.cases import acting_head, get_case, open_runs
from db.election import Office, elected
from db.models import Case, utcnow
from db.outbox import dedup_key
from db.people import find_person
from db.session import Session, reading, transaction
from flows.trigger import (
    StoppedRun,
    mark_crashed,
    record_restart,
    restart_case_flow,
    silent_runs,
    stopped_runs,
)
from services.audit_checkpoints import checkpoint_due, write_checkpoint
from services.handover import escalate
from services.notices import email_about_case
from services.requests import Answer, decide, remind

log = logging.getLogger("casework.reconciler")

# A run that crashes every time it starts is restarted at most this often, so a broken
# machine cannot fill the audit trail; the warning in the log says why it was left.
RESTARTS_PER_HOUR = 3
NO_ANSWER = "No response from the platform was recorded by the deadline."


def look_after_stopped_flows() -> int:
    """Run crashed flows of open cases again; flag those a person must deal with.

    Returns how many runs were restarted.
    """
    with reading() as session:
        runs = open_runs(session)
    if not runs:
        return 0
    crash_silent_flows(list(runs))
    try:
        stopped = stopped_runs(list(runs))
    except Exception as exc:
        log.warning("stopped flows not checked: Prefect unreachable (%s)", exc)
        return 0
    restarted = 0
    for run in stopped:
        case_id = runs[run.flow_run_id]
        with reading() as session:
            since = utcnow() - timedelta(hours=1)
            recent = count_since(session, case_id, AuditKind.FLOW_RESTARTED, since)
        retry = run.crashed and recent < RESTARTS_PER_HOUR
        if retry and restart_quietly(case_id, run.flow_run_id):
            restarted += 1
        elif not retry:
            flag_stopped(case_id, run)
    return restarted


def crash_silent_flows(flow_run_ids: list[str]) -> int:
    """Mark crashed the runs whose process died without a word (killed outright, or its
    machine lost), so they are run again below; returns how many.

    Such a run stays running in Prefect for good: only a process that is still alive can
    report its own end. A live one sends a heartbeat every `flow_heartbeat_seconds`.
    """
    settings = get_settings()
    silence = timedelta(seconds=settings.flow_heartbeat_seconds * settings.flow_silent_heartbeats)
    try:
        silent = silent_runs(flow_run_ids, silence)
        for flow_run_id in silent:
            log.warning("flow run %s silent for %s: taking it as crashed", flow_run_id, silence)
            mark_crashed(flow_run_id, silence)
    except Exception as exc:
        log.warning("silent flows not checked: Prefect unreachable (%s)", exc)
        return 0
    return len(silent)


def restart_quietly(case_id: int, flow_run_id: str) -> bool:
    try:
        if not restart_case_flow(flow_run_id):
            return False
    except Exception as exc:
        log.warning("case %s: crashed flow not restarted yet (%s)", case_id, exc)
        return False
    with transaction() as session:
        record_restart(session, case_id, flow_run_id, "the run crashed")
    return True


def flag_stopped(case_id: int, run: StoppedRun) -> None:
    """Record once that the case's procedure has stopped and needs a person."""
    with transaction() as session:
        # The stop was read from Prefect before this transaction: a person may have run the
        # procedure again since, and a stop already flagged must not come back over that.
        if stop_recorded(session, case_id, run.flow_run_id, run.since):
            return
        log.warning("case %s: flow run %s is %s", case_id, run.flow_run_id, run.state_name)
        record_event(
            session,
            case_id=case_id,
            kind=AuditKind.FLOW_STOPPED,
            data={
                "flow_run_id": run.flow_run_id,
                "state": run.state_name,
                "message": run.message[:500],
                "since": run.since,
            },
        )
        tell_case_managers(session, get_case(session, case_id), run.since)


def tell_case_managers(session: Session, case: Case, since: str) -> None:
    """Email the case lead and the acting head (content-free) that the procedure stopped."""
    found = (find_person(session, case.lead_id), acting_head(session, case))
    for person in {p.id: p for p in found if p is not None}.values():
        email_about_case(
            session,
            case,
            person,
            EmailKind.PROCEDURE_STOPPED,
            dedup_key=dedup_key(EmailKind.PROCEDURE_STOPPED, case.id, since, person.id),
        )


def record_missed_platform_deadlines() -> int:
    """A platform that has not answered by the deadline: record that, so the flow moves on."""
    answer = Answer(
        Decision.NO_RESPONSE, NO_ANSWER, {"response": "none"}, NO_ANSWER, "", "casework"
    )
    with transaction() as session:
        late = overdue(session, StepKey.PLATFORM_RESPONSE, utcnow())
        for approval in late:
            decide(session, approval, answer, None)
        return len(late)


def send_reminders() -> int:
    """Send again, with a new link, each request left waiting too long; returns how many."""
    settings = get_settings()
    if settings.reminder_after_hours <= 0 or settings.reminders_max <= 0:
        return 0
    sent_before = utcnow() - timedelta(hours=settings.reminder_after_hours)
    with transaction() as session:
        waiting = due_for_reminder(
            session,
            sent_before=sent_before,
            most=settings.reminders_max,
            deadlines=DEADLINE_STEPS,
        )
        return sum(remind(session, get_case(session, a.case_id), a) for a in waiting)


def escalate_unanswered() -> int:
    """Pass each request whose last reminder has waited `reminder_after_hours` too to the next
    person in the school's chain; returns how many moved. Off when reminders have no wait."""
    settings = get_settings()
    if settings.reminder_after_hours <= 0:
        return 0
    sent_before = utcnow() - timedelta(hours=settings.reminder_after_hours)
    with transaction() as session:
        due = due_for_escalation(
            session,
            sent_before=sent_before,
            reminders=max(settings.reminders_max, 0),
            deadlines=DEADLINE_STEPS,
        )
        return sum(escalate(session, get_case(session, a.case_id), a) for a in due)


def sign_audit_checkpoint() -> bool:
    """Sign the audit chain now and then, so removing its newest events is found."""
    settings = get_settings()
    if not checkpoint_due(settings):
        return False
    with reading() as session:
        write_checkpoint(session, settings)
    return True


def reconcile_if_elected() -> bool:
    """One pass of the repairs, unless another worker is making one (several machines on
    one PostgreSQL database); True if this process made it.

    Every repair is safe to repeat one after another, but not all of them side by side:
    two reminders of one request made at once would each send a link of their own.
    """
    with elected(Office.RECONCILER) as chosen:
        if chosen:
            reconcile_once()
        return chosen


def reconcile_once() -> None:
    """One pass of the repairs. New cases' flows and stored decisions are not among them:
    every worker's hand-off loop sees to those within a moment (casework/handoff.py)."""
    sign_audit_checkpoint()
    record_missed_platform_deadlines()
    send_reminders()
    escalate_unanswered()
    look_after_stopped_flows()
    governors_reports_now_and_then()
