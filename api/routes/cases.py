"""Reading cases: the list, one case with its steps and timeline, and its evidence."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from api import evidence_access
from api.deps import acting, posted_form, read_only, unit_of_work, visitor
from api.errors import AppError
from api.pages import render_page
from api.retention_views import tombstone_view
from api.security import Visitor, session_cookie
from api.views import (
    UNDELIVERED_SHOWN,
    CaseView,
    case_rows,
    case_view,
    log_school_view,
    viewable_case,
)
from core.access import Action, Actor, may
from core.enums import IncidentType, Role
from core.procedures import procedure_for
from core.terms import local_midnight
from db.audit import procedure_stopped
from db.cases import OUTCOMES, CaseFilter
from db.models import CaseStatus
from db.people import get_person
from db.session import Session, reading, transaction
from db.sessions import choose_school
from forms.dashboard import read_date
from services.requests import reissue, waiting_request

# flows.trigger is imported by the routes that call Prefect, when one runs: importing
# Prefect is a second of every web process's start-up, and no other page needs it.
router = APIRouter()
log = logging.getLogger("casework.cases")


MAX_PAGE = 10_000
# A preview opened on its own is an image and nothing else: it loads and runs nothing.


def case_filter(request: Request) -> CaseFilter:
    """The list's filters from the address; anything the page does not offer is a 400."""
    status = request.query_params.get("status", "")
    kind = request.query_params.get("type", "")
    outcome = request.query_params.get("outcome", "")
    try:
        shown = CaseFilter(
            status=CaseStatus(status) if status else None,
            incident_type=IncidentType(kind) if kind else None,
        )
    except ValueError:
        raise AppError(
            400,
            "The case list cannot be filtered that way: choose a status and a type from its lists.",
        ) from None
    if outcome and outcome not in OUTCOMES:
        raise AppError(400, "Choose an outcome from the list, or any outcome.")
    first, last = (request.query_params.get(name, "").strip() for name in ("from", "to"))
    first_day, last_day = day_given(first, "from"), day_given(last, "to")
    if first_day and last_day and last_day < first_day:
        raise AppError(400, "The last day opened must be on or after the first day.")
    return replace(
        shown,
        outcome=outcome or None,
        opened_from=local_midnight(first_day) if first_day else None,
        opened_before=local_midnight(last_day + timedelta(days=1)) if last_day else None,
        first_day=first,
        last_day=last,
    )


def day_given(raw: str, which: str) -> date | None:
    """A day from the filter (as a date box sends it, or typed as the dashboard's dates may
    be), or a 400 saying why."""
    if not raw:
        return None
    word = "first" if which == "from" else "last"
    try:
        day = read_date(raw, word)
    except ValueError:
        raise AppError(
            400, f"Give the {word} day opened as a date, for example 2026-09-01."
        ) from None
    if not 2000 <= day.year <= 2100:
        raise AppError(400, f"Give a {word} day opened between the years 2000 and 2100.")
    return day


def page_number(request: Request) -> int:
    raw = request.query_params.get("page", "1")
    if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= MAX_PAGE):
        raise AppError(400, "There is no page of the case list with that number.")
    return int(raw)


@router.get("/")
def home(
    request: Request, seen: Visitor = Depends(visitor), session: Session = Depends(read_only)
) -> Response:
    """The case list; governors get the dashboard (numbers only), administrators their own
    pages."""
    if may(seen.actor, Action.LIST_CASES):
        listed = case_rows(
            session, seen.actor, seen.school_id, case_filter(request), page_number(request)
        )
        if seen.actor.role == Role.AUDITOR:
            log_list_view(seen, listed.shown, [row["case"].reference for row in listed.rows])
        return render_page(
            request,
            "pages/home.html",
            listed=listed,
            statuses=list(CaseStatus),
            kinds=[(kind.value, procedure_for(kind).label) for kind in IncidentType],
            outcomes=list(OUTCOMES.items()),
        )
    if may(seen.actor, Action.SEE_DASHBOARD):
        return RedirectResponse("/dashboard", status_code=303)
    return render_page(request, "pages/admin_home.html")


def log_list_view(seen: Visitor, shown: CaseFilter, references: list[str]) -> None:
    """An auditor's look at the case list goes in the school's trail: what they asked for
    and which cases it showed (their own transaction: the list itself only reads)."""
    asked = {
        "status": shown.status.value if shown.status else "",
        "type": shown.incident_type.value if shown.incident_type else "",
        "outcome": shown.outcome or "",
        "from": shown.first_day,
        "to": shown.last_day,
    }
    asked_for = {k: v for k, v in asked.items() if v}
    with transaction() as session:
        log_school_view(
            session, seen.actor, seen.school_id, "case list", **asked_for, cases=references
        )


@router.post("/school/switch")
def switch_school(
    request: Request,
    seen: Visitor = Depends(visitor),
    form: FormData = Depends(posted_form),
    session: Session = Depends(unit_of_work),
) -> Response:
    """Look at another of the schools this person serves."""
    raw = str(form.get("school_id") or "")
    if not raw.isdigit() or int(raw) not in seen.actor.schools:
        raise AppError(404, "You do not serve that school.")
    choose_school(session, session_cookie(request), int(raw))
    return RedirectResponse("/", status_code=303)


def load_case(actor: Actor, case_id: int) -> CaseView:
    with transaction() as session:
        return case_view(session, actor, case_id)


# What the case page says after an action that sends the person back to it.
DONE = {
    "note": "Your note is added to the case and its timeline.",
    "evidence": "The evidence is kept with the case, with its SHA-256 fingerprint.",
    "corrected": "The correction is saved. The audit trail keeps the old value and your reason.",
    "withdrawn": "The case is withdrawn. Its procedure has stopped and no more emails go out.",
    "reopened": "The case is open again and its procedure carries on.",
}


def case_page(request: Request, view: CaseView, status_code: int = 200, **context: Any) -> Response:
    """The case page, with its notices; a note or hand-over form with problems is shown
    again with them (`note_values`, `note_errors`, `handover_form`)."""
    query = request.query_params
    return render_page(
        request,
        "pages/case.html",
        status_code=status_code,
        view=view,
        just_opened=query.get("opened") == "1",
        request_reissued=bool(query.get("reissued")),
        procedure_restarted=query.get("restarted") == "1",
        done=DONE.get(query.get("done", ""), ""),
        undelivered_shown=UNDELIVERED_SHOWN,
        note_values=context.pop("note_values", {}),
        note_errors=context.pop("note_errors", {}),
        handed=query.get("handed", ""),
        handover_form=context.pop("handover_form", None),
        **context,
    )


@router.get("/cases/{case_id}")
def show_case(request: Request, case_id: int, actor: Actor = Depends(acting)) -> Response:
    """The case page; for a disposed case, its tombstone."""
    with transaction() as session:
        tomb = tombstone_view(session, actor, case_id)
    if tomb is not None:
        return render_page(request, "pages/case_disposed.html", tomb=tomb)
    return case_page(request, load_case(actor, case_id))


@router.get("/api/cases/{case_id}")
def case_json(case_id: int, actor: Actor = Depends(acting)) -> Response:
    view = load_case(actor, case_id)
    return JSONResponse(
        {
            "id": view.case.id,
            "reference": view.case.reference,
            "incident_type": view.case.incident_type.value,
            "status": view.case.status.value,
            "outcome": view.case.outcome,
            "review_on": view.case.review_on.isoformat() if view.case.review_on else None,
            "disposed_at": (view.case.disposed_at.isoformat() if view.case.disposed_at else None),
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


@router.get("/cases/{case_id}/evidence/{evidence_id}")
def download_evidence(case_id: int, evidence_id: int, actor: Actor = Depends(acting)) -> Response:
    """The original bytes, as an attachment, to people who may see the case's evidence."""
    return evidence_access.download(actor, case_id, evidence_id)


@router.get("/cases/{case_id}/evidence/{evidence_id}/preview")
def preview_evidence(
    request: Request, case_id: int, evidence_id: int, actor: Actor = Depends(acting)
) -> Response:
    """A small copy of an image file, with no metadata, to people who may open the original
    (`?size=view` for a larger one)."""
    size = request.query_params.get("size", "thumb")
    return evidence_access.preview(actor, case_id, evidence_id, size)


@router.post("/cases/{case_id}/steps/{step_key}/reissue", dependencies=[Depends(posted_form)])
def reissue_step_link(
    case_id: int,
    step_key: str,
    actor: Actor = Depends(acting),
    session: Session = Depends(unit_of_work),
) -> Response:
    """Send a fresh link for a waiting step (the email was lost, or the link expired)."""
    case = viewable_case(session, actor, case_id, Action.WORK_CASE)
    approval = waiting_request(session, case.id, step_key)
    if approval is None:
        raise AppError(
            409, "That step is not waiting for anyone, so there is no link to send again."
        )
    reissue(session, case, approval, get_person(session, actor.id))
    return RedirectResponse(f"/cases/{case_id}?reissued={step_key}", status_code=303)


def stopped_run_of(actor: Actor, case_id: int) -> str:
    """The flow run of a case whose procedure has stopped; refuses any other case."""
    with reading() as session:
        case = viewable_case(session, actor, case_id, Action.WORK_CASE)
        if case.status != CaseStatus.OPEN or procedure_stopped(session, case.id) is None:
            raise AppError(
                409, "This case's procedure has not stopped, so there is nothing to restart."
            )
        assert case.flow_run_id is not None  # a stopped procedure had a run
        return case.flow_run_id


@router.post("/cases/{case_id}/procedure/restart", dependencies=[Depends(posted_form)])
def restart_procedure(case_id: int, actor: Actor = Depends(acting)) -> Response:
    """Run a stopped procedure again from the top; steps already done are not repeated."""
    from flows.trigger import record_restart, restart_case_flow  # Prefect: see the imports above

    flow_run_id = stopped_run_of(actor, case_id)
    try:
        accepted = restart_case_flow(flow_run_id)
    except Exception as exc:
        log.warning("case %s: restart refused by Prefect (%s)", case_id, exc)
        raise AppError(
            503,
            "The workflow server could not be reached, so the procedure was not restarted. "
            "Nothing has changed; please try again in a few minutes.",
        ) from exc
    if not accepted:
        raise AppError(409, "The workflow server would not restart this procedure just now.")
    with transaction() as session:
        person = get_person(session, actor.id)
        record_restart(session, case_id, flow_run_id, "restarted by hand", actor=person)
    return RedirectResponse(f"/cases/{case_id}?restarted=1", status_code=303)
