"""Keeping Prefect in step with our database, which is the source of truth.

Repairs, all safe to repeat: start the flow of a case that has none (Prefect was down at
intake); resume a run whose decision is stored but was never delivered; run again a flow whose
process died (a runner stopped or killed mid-run); record that a platform missed its deadline
to answer, which the procedure treats as a decision; and remind whoever has left a request
waiting, with a fresh link.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from prefect.client.schemas.objects import StateType
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.settings import get_settings
from db.approvals import awaiting_resume, claim_decision, due_for_reminder, overdue
from db.audit import procedure_stopped, record_event
from db.cases import acting_head, finish_step, get_case
from db.models import Approval, AuditEvent, Case, CaseStatus, Decision, Person, utcnow
from db.session import reading, transaction
from flows.steps.approval import remind
from flows.steps.context import email_about_case
from flows.trigger import (
    Delivery,
    FlowNotReady,
    StoppedRun,
    restart_case_flow,
    resume_case_flow,
    start_case_flow,
    stopped_runs,
)

log = logging.getLogger("casework.reconciler")


def deliver_decision(approval_id: int) -> bool:
    """Resume the run waiting on this decision; True once nothing more is needed."""
    with transaction() as session:
        approval = session.get(Approval, approval_id)
        case = session.get(Case, approval.case_id) if approval else None
        if approval is None or case is None or approval.resumed_at is not None:
            return True
        if not case.flow_run_id or approval.decision is None:
            return False
        flow_run_id, step_key = case.flow_run_id, approval.step_key
        run_input = {"approval_id": approval.id, "decision": approval.decision.value}
    # No transaction is held while Prefect is called: SQLite writers would queue behind it.
    try:
        delivery = resume_case_flow(flow_run_id, step_key, run_input)
    except FlowNotReady as exc:
        log.info("approval %s: flow not ready to resume (%s)", approval_id, exc)
        return False
    except Exception as exc:
        log.warning("approval %s: Prefect unreachable (%s)", approval_id, exc)
        return False
    with transaction() as session:
        approval = session.get(Approval, approval_id)
        if approval is not None and approval.resumed_at is None:
            approval.resumed_at = utcnow()
            if delivery == Delivery.RESTARTED:
                record_restart(session, approval.case_id, flow_run_id, f"decision on {step_key}")
    return True


# A run that crashes every time it starts is restarted at most this often, so a broken
# machine cannot fill the audit trail; the warning in the log says why it was left.
RESTARTS_PER_HOUR = 3


def record_restart(
    session: Session, case_id: int, flow_run_id: str, why: str, actor: Person | None = None
) -> None:
    record_event(
        session,
        case_id=case_id,
        kind="flow.restarted",
        actor=actor,
        data={"flow_run_id": flow_run_id, "after": why},
    )


def recent_restarts(session: Session, case_id: int) -> int:
    since = utcnow() - timedelta(hours=1)
    return (
        session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(
                AuditEvent.case_id == case_id,
                AuditEvent.kind == "flow.restarted",
                AuditEvent.at >= since,
            )
        )
        or 0
    )


def look_after_stopped_flows() -> int:
    """Run crashed flows of open cases again; flag those a person must deal with.

    Returns how many runs were restarted.
    """
    with reading() as session:
        runs = dict(
            session.execute(
                select(Case.flow_run_id, Case.id).where(
                    Case.status == CaseStatus.OPEN, Case.flow_run_id.is_not(None)
                )
            ).all()
        )
        if not runs:
            return 0
    try:
        stopped = stopped_runs(list(runs))
    except Exception as exc:
        log.warning("stopped flows not checked: Prefect unreachable (%s)", exc)
        return 0
    restarted = 0
    for run in stopped:
        case_id = runs[run.flow_run_id]
        with reading() as session:
            retry = (
                run.state == StateType.CRASHED
                and recent_restarts(session, case_id) < RESTARTS_PER_HOUR
            )
        if retry and restart_quietly(case_id, run.flow_run_id):
            restarted += 1
        elif not retry:
            flag_stopped(case_id, run)
    return restarted


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
        flagged = procedure_stopped(session, case_id)
        if flagged is not None and flagged.data.get("since") == run.since:
            return
        log.warning("case %s: flow run %s is %s", case_id, run.flow_run_id, run.state.value)
        record_event(
            session,
            case_id=case_id,
            kind="flow.stopped",
            data={
                "flow_run_id": run.flow_run_id,
                "state": run.state.value.lower(),
                "message": run.message[:500],
                "since": run.since,
            },
        )
        tell_case_managers(session, get_case(session, case_id), run.since)


def tell_case_managers(session: Session, case: Case, since: str) -> None:
    """Email the case lead and the acting head (content-free) that the procedure stopped."""
    found = (session.get(Person, case.lead_id), acting_head(session, case))
    for person in {p.id: p for p in found if p is not None}.values():
        email_about_case(
            session,
            case,
            person,
            "procedure_stopped",
            dedup_key=f"procedure_stopped:{case.id}:{since}:{person.id}",
        )


def start_missing_flows() -> int:
    """Start flows for open cases that have no run yet; returns how many were started."""
    with transaction() as session:
        waiting = [
            (c.id, c.incident_type)
            for c in session.scalars(
                select(Case).where(Case.flow_run_id.is_(None), Case.status == CaseStatus.OPEN)
            )
        ]
    started = 0
    for case_id, kind in waiting:
        try:
            run_id = start_case_flow(case_id, kind)
        except Exception as exc:
            log.warning("case %s: flow not started yet (%s)", case_id, exc)
            continue
        record_flow_run(case_id, run_id)
        started += 1
    return started


def record_flow_run(case_id: int, run_id: str) -> None:
    with transaction() as session:
        case = session.get(Case, case_id)
        if case is not None and case.flow_run_id is None:
            case.flow_run_id = run_id
            record_event(
                session, case_id=case_id, kind="flow.started", data={"flow_run_id": run_id}
            )


def record_missed_platform_deadlines() -> int:
    """A platform that has not answered by the deadline: record that, so the flow moves on."""
    now = utcnow()
    with transaction() as session:
        late = overdue(session, "platform_response", now)
        for approval in late:
            reason = "No response from the platform was recorded by the deadline."
            if not claim_decision(
                session,
                approval.id,
                decision=Decision.NO_RESPONSE,
                reason=reason,
                response={"response": "none"},
                ip="",
                user_agent="casework",
                now=now,
                live_only=False,
            ):
                continue
            record_event(
                session,
                case_id=approval.case_id,
                kind="deadline.passed",
                data={"step": approval.step_key, "deadline": approval.expires_at.isoformat()},
            )
            finish_step(session, approval.case_id, approval.step_key, outcome=reason)
        return len(late)


# Requests whose expiry is someone else's deadline, not a link to renew.
DEADLINE_STEPS = ("platform_response",)


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
        for approval in waiting:
            case = session.get(Case, approval.case_id)
            assert case is not None
            remind(session, case, approval)
        return len(waiting)


def reconcile_once() -> tuple[int, int]:
    """One pass of the repairs; returns (flows started, decisions delivered)."""
    record_missed_platform_deadlines()
    send_reminders()
    started = start_missing_flows()
    with transaction() as session:
        pending = [a.id for a in awaiting_resume(session)]
    delivered = sum(deliver_decision(approval_id) for approval_id in pending)
    look_after_stopped_flows()
    return started, delivered
