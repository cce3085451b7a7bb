"""Reading cases: the list, one case with its steps and timeline, and its evidence."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from api.errors import AppError
from api.pages import render_page
from api.security import check_csrf, require_user
from casework.reconciler import record_restart
from core.files import evidence_files
from core.procedures import procedure_for
from db.approvals import for_step
from db.audit import case_events, last_stop, procedure_stopped, record_event, stopped_among
from db.cases import CaseNotFound, can_view, evidence_of, get_case, steps_of, visible_cases
from db.models import (
    Approval,
    AuditEvent,
    Case,
    CaseStatus,
    CaseStep,
    Evidence,
    OutboxMessage,
    OutboxStatus,
    Person,
    Role,
    StepStatus,
)
from db.session import reading, transaction
from flows.steps.approval import reissue
from flows.steps.letters import LetterReport, letter_report
from flows.steps.packs import Document, documents_of
from flows.trigger import restart_case_flow

router = APIRouter()
log = logging.getLogger("casework.cases")
HIDDEN_FROM_TIMELINE = {"case.viewed", "evidence.viewed", "pack.viewed"}
CASE_MANAGERS = (Role.HEADTEACHER, Role.DSL)
# Who sees the addresses of undelivered mail (parents' addresses are personal data).
ADDRESS_READERS = (Role.HEADTEACHER, Role.DSL, Role.CHAIR)
UNDELIVERED_SHOWN = 50


@dataclass(frozen=True)
class Undelivered:
    """An email of the case the server refused, or is still deferring, with its answer."""

    to: str
    kind: str
    failed: bool  # False: still being retried
    answer: str
    attempts: int


def undelivered_of(session: Session, case_id: int, show_addresses: bool) -> list[Undelivered]:
    troubled = (OutboxMessage.status == OutboxStatus.FAILED) | (
        (OutboxMessage.status == OutboxStatus.PENDING) & (OutboxMessage.last_error != "")
    )
    rows = session.execute(
        select(
            OutboxMessage.to_addr,
            OutboxMessage.kind,
            OutboxMessage.status,
            OutboxMessage.last_error,
            OutboxMessage.attempts,
        )
        .where(OutboxMessage.case_id == case_id, troubled)
        .order_by(OutboxMessage.id)
        .limit(UNDELIVERED_SHOWN)
    ).all()
    return [
        Undelivered(
            to=row.to_addr if show_addresses else "(address hidden)",
            kind=row.kind.replace("_", " "),
            failed=row.status == OutboxStatus.FAILED,
            answer=row.last_error,
            attempts=row.attempts,
        )
        for row in rows
    ]


@dataclass
class CaseView:
    case: Case
    label: str
    reporter: Person
    lead: Person
    steps: list[CaseStep]
    owners: dict[int, str]
    evidence: list[Evidence]
    timeline: list[AuditEvent]
    access_log: list[AuditEvent]
    delivery: dict[str, int]
    approvals: dict[str, Approval]
    documents: list[Document]
    letters: LetterReport | None = None
    undelivered: list[Undelivered] = field(default_factory=list)
    stopped: AuditEvent | None = None  # the procedure stopped and needs a person


def viewable_case(session: Session, user: Person, case_id: int) -> Case:
    """The case if `user` may see it; the same 404 whether it is missing or hidden."""
    try:
        case = get_case(session, case_id)
    except CaseNotFound:
        case = None
    if case is None or not can_view(session, user, case):
        raise AppError(404, "There is no case with that number that you can see.")
    return case


def delivery_counts(session: Session, case_id: int) -> dict[str, int]:
    rows = session.execute(
        select(OutboxMessage.status, func.count())
        .where(OutboxMessage.case_id == case_id)
        .group_by(OutboxMessage.status)
    ).all()
    counts = {status.value: 0 for status in OutboxStatus}
    counts.update({status.value: n for status, n in rows})
    return counts


def build_view(user: Person, case_id: int) -> CaseView:
    with transaction() as session:
        case = viewable_case(session, user, case_id)
        record_event(
            session, case_id=case.id, kind="case.viewed", actor=session.get(Person, user.id)
        )
        steps = steps_of(session, case.id)
        owner_ids = {s.owner_id for s in steps if s.owner_id}
        owners = (
            {p.id: p.name for p in session.scalars(select(Person).where(Person.id.in_(owner_ids)))}
            if owner_ids
            else {}
        )
        events = case_events(session, case.id)
        approvals = {
            a.step_key: a
            for a in session.scalars(select(Approval).where(Approval.case_id == case.id))
        }
        view = CaseView(
            case=case,
            label=procedure_for(case.incident_type).label,
            reporter=session.get(Person, case.reporter_id),  # type: ignore[arg-type]
            lead=session.get(Person, case.lead_id),  # type: ignore[arg-type]
            steps=steps,
            owners=owners,
            evidence=evidence_of(session, case.id),
            timeline=[e for e in events if e.kind not in HIDDEN_FROM_TIMELINE],
            access_log=[e for e in events if e.kind in HIDDEN_FROM_TIMELINE],
            delivery=delivery_counts(session, case.id),
            approvals=approvals,
            documents=documents_of(session, case),
            letters=letter_report(session, case.id),
            undelivered=undelivered_of(session, case.id, user.role in ADDRESS_READERS),
            stopped=last_stop(events) if case.status == CaseStatus.OPEN else None,
        )
        session.expunge_all()
        return view


@router.get("/")
async def home(request: Request) -> Response:
    user = require_user(request)

    def load() -> list[dict[str, Any]]:
        with reading() as session:
            cases = visible_cases(session, user)
            waiting = waiting_steps(session, [c.id for c in cases])
            stopped = stopped_among(session, [c.id for c in cases if c.status == CaseStatus.OPEN])
            return [
                {
                    "case": c,
                    "label": procedure_for(c.incident_type).label,
                    "waiting": waiting.get(c.id, []),
                    "stopped": c.id in stopped,
                }
                for c in cases
            ]

    rows = await run_in_threadpool(load)
    return render_page(request, "pages/home.html", rows=rows)


def waiting_steps(session: Session, case_ids: list[int]) -> dict[int, list[str]]:
    if not case_ids:
        return {}
    found: dict[int, list[str]] = {}
    for step in session.scalars(
        select(CaseStep).where(
            CaseStep.case_id.in_(case_ids), CaseStep.status == StepStatus.WAITING
        )
    ):
        found.setdefault(step.case_id, []).append(step.title)
    return found


@router.get("/cases/{case_id}")
async def show_case(request: Request, case_id: int) -> Response:
    user = require_user(request)
    view = await run_in_threadpool(build_view, user, case_id)
    return render_page(
        request,
        "pages/case.html",
        view=view,
        just_opened=request.query_params.get("opened") == "1",
        request_reissued=bool(request.query_params.get("reissued")),
        procedure_restarted=request.query_params.get("restarted") == "1",
        undelivered_shown=UNDELIVERED_SHOWN,
    )


@router.get("/api/cases/{case_id}")
async def case_json(request: Request, case_id: int) -> Response:
    user = require_user(request)
    view = await run_in_threadpool(build_view, user, case_id)
    return JSONResponse(
        {
            "id": view.case.id,
            "reference": view.case.reference,
            "incident_type": view.case.incident_type.value,
            "status": view.case.status.value,
            "outcome": view.case.outcome,
            "steps": [
                {"key": s.key, "title": s.title, "status": s.status.value, "outcome": s.outcome}
                for s in view.steps
            ],
            "evidence": [
                {"id": e.id, "filename": e.original_filename, "sha256": e.sha256, "size": e.size}
                for e in view.evidence
            ],
            "delivery": view.delivery,
        }
    )


def load_evidence(user: Person, case_id: int, evidence_id: int) -> Evidence:
    with transaction() as session:
        case = viewable_case(session, user, case_id)
        item = session.get(Evidence, evidence_id)
        if item is None or item.case_id != case.id:
            raise AppError(404, "That evidence file is not part of this case.")
        record_event(
            session,
            case_id=case.id,
            kind="evidence.viewed",
            actor=session.get(Person, user.id),
            data={"evidence_id": item.id, "sha256": item.sha256},
        )
        session.expunge(item)
        return item


@router.get("/cases/{case_id}/evidence/{evidence_id}")
async def download_evidence(request: Request, case_id: int, evidence_id: int) -> Response:
    """The original bytes, as an attachment, to people who may see the case."""
    user = require_user(request)
    item = await run_in_threadpool(load_evidence, user, case_id, evidence_id)
    data = await run_in_threadpool(evidence_files().path(item.stored_name).read_bytes)
    safe_name = "".join(ch for ch in item.original_filename if ch.isalnum() or ch in "._- ")
    return Response(
        data,
        media_type=item.content_type,
        headers={
            "Content-Disposition": f'attachment; filename="{safe_name or "evidence"}"',
            "X-Evidence-SHA256": item.sha256,
            "Content-Security-Policy": "default-src 'none'; sandbox",
        },
    )


async def case_manager(request: Request, action: str) -> Person:
    """The signed-in headteacher or DSL behind a genuine form POST; 403 for anyone else."""
    form = await request.form()
    check_csrf(request, form)
    user = require_user(request)
    if user.role not in CASE_MANAGERS:
        raise AppError(
            403, f"Only the headteacher or the designated safeguarding lead can {action}."
        )
    return user


def reissue_link(user: Person, case_id: int, step_key: str) -> None:
    with transaction() as session:
        case = viewable_case(session, user, case_id)
        approval = for_step(session, case.id, step_key)
        if approval is None or approval.decision is not None:
            raise AppError(
                409, "That step is not waiting for anyone, so there is no link to send again."
            )
        reissue(session, case, approval, session.get(Person, user.id))  # type: ignore[arg-type]


@router.post("/cases/{case_id}/steps/{step_key}/reissue")
async def reissue_step_link(request: Request, case_id: int, step_key: str) -> Response:
    """Send a fresh link for a waiting step (the email was lost, or the link expired)."""
    user = await case_manager(request, "send a new link")
    await run_in_threadpool(reissue_link, user, case_id, step_key)
    return RedirectResponse(f"/cases/{case_id}?reissued={step_key}", status_code=303)


def check_stopped(user: Person, case_id: int) -> str:
    """The flow run of a case whose procedure has stopped; refuses any other case."""
    with reading() as session:
        case = viewable_case(session, user, case_id)
        if case.status != CaseStatus.OPEN or procedure_stopped(session, case.id) is None:
            raise AppError(
                409, "This case's procedure has not stopped, so there is nothing to restart."
            )
        assert case.flow_run_id is not None  # a stopped procedure had a run
        return case.flow_run_id


def record_restart_by(user: Person, case_id: int, flow_run_id: str) -> None:
    with transaction() as session:
        actor = session.get(Person, user.id)
        record_restart(session, case_id, flow_run_id, "restarted by hand", actor=actor)


@router.post("/cases/{case_id}/procedure/restart")
async def restart_procedure(request: Request, case_id: int) -> Response:
    """Run a stopped procedure again from the top; steps already done are not repeated."""
    user = await case_manager(request, "restart a procedure")
    flow_run_id = await run_in_threadpool(check_stopped, user, case_id)
    try:
        accepted = await run_in_threadpool(restart_case_flow, flow_run_id)
    except Exception as exc:
        log.warning("case %s: restart refused by Prefect (%s)", case_id, exc)
        raise AppError(
            503,
            "The workflow server could not be reached, so the procedure was not restarted. "
            "Nothing has changed; please try again in a few minutes.",
        ) from exc
    if not accepted:
        raise AppError(409, "The workflow server would not restart this procedure just now.")
    await run_in_threadpool(record_restart_by, user, case_id, flow_run_id)
    return RedirectResponse(f"/cases/{case_id}?restarted=1", status_code=303)
