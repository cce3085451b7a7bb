"""Working a case off its procedure: notes, late evidence, corrections, withdrawal, reopening.

Each action is a page with its form (or, for a note, a form on the case page), guarded by
the access policy; the service does the work in one unit of work, and Prefect is told
afterwards: a withdrawn case's run is cancelled, a reopened case's run starts again.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from api.deps import acting, open_form, posted_form, read_uploads
from api.errors import AppError
from api.pages import render_page
from api.routes.cases import case_page
from api.views import case_view, viewable_case
from core.access import Action, Actor
from core.enums import AuditKind
from core.rules import PLATFORMS
from core.settings import get_settings
from db.audit import record_event
from db.cases import add_note
from db.models import Case, CaseStatus
from db.people import get_person
from db.session import reading, transaction
from forms.common import check_evidence, reason_problem
from forms.corrections import as_typed, check_corrections, correctable
from services.case_work import (
    NO_IMAGES,
    CaseNotOpen,
    add_late_evidence,
    correct,
    current_answers,
    redo_choices,
    reopen,
    withdraw,
)

# flows.trigger is imported by the routes that call Prefect, when one runs: importing
# Prefect is a second of every web process's start-up, and no other page needs it.
router = APIRouter()
log = logging.getLogger("casework.case_work")
MAX_NOTE = 5000


def detached_case(actor: Actor, case_id: int, action: Action) -> Case:
    """The case, read for a page, if `actor` may do `action` on it (404 or 403 otherwise)."""
    with reading() as session:
        case = viewable_case(session, actor, case_id, action)
        session.expunge(case)
    return case


def case_form(
    request: Request,
    template: str,
    case: Case,
    values: dict[str, str],
    errors: dict[str, str],
    status: int = 200,
    **context: Any,
) -> Response:
    """One of the case-work pages: its case, the form's values and its problems."""
    return render_page(
        request,
        f"pages/{template}.html",
        status_code=status,
        case=case,
        values=values,
        errors=errors,
        **context,
    )


def back_to(case_id: int, done: str) -> RedirectResponse:
    return RedirectResponse(f"/cases/{case_id}?done={done}", status_code=303)


# --- Notes ------------------------------------------------------------------------------


@router.post("/cases/{case_id}/notes")
def post_note(
    request: Request,
    case_id: int,
    actor: Actor = Depends(acting),
    form: FormData = Depends(posted_form),
) -> Response:
    """Add a note; a blank or overlong one shows the case page again with the text kept."""
    text = str(form.get("note") or "").strip()
    problem = ""
    if not text:
        problem = "Write the note before adding it."
    elif len(text) > MAX_NOTE:
        problem = f"A note can be at most {MAX_NOTE:,} characters; this one has {len(text):,}."
    with transaction() as session:
        case = viewable_case(session, actor, case_id, Action.ADD_NOTE)
        if not problem:
            add_note(session, case.id, get_person(session, actor.id), text)
            return back_to(case_id, "note")
    with transaction() as session:
        view = case_view(session, actor, case_id)
    return case_page(request, view, 400, note_values={"note": text}, note_errors={"note": problem})


# --- Late evidence -----------------------------------------------------------------------


async def evidence_form(request: Request) -> AsyncIterator[FormData]:
    """The posted files within the upload limits, CSRF-checked."""
    async with open_form(request, max_files=get_settings().max_files + 1, max_fields=10) as form:
        yield form


def evidence_page(
    request: Request, case: Case, values: dict[str, str], errors: dict[str, str], status: int = 200
) -> Response:
    settings = get_settings()
    return case_form(
        request,
        "case_evidence",
        case,
        values,
        errors,
        status,
        max_files=settings.max_files,
        max_file_mb=settings.max_file_bytes // (1024 * 1024),
    )


def evidence_case(actor: Actor, case_id: int) -> Case:
    case = detached_case(actor, case_id, Action.ADD_EVIDENCE)
    if case.safeguarding:
        raise AppError(409, NO_IMAGES)
    return case


@router.get("/cases/{case_id}/evidence/add")
def show_evidence_form(request: Request, case_id: int, actor: Actor = Depends(acting)) -> Response:
    return evidence_page(request, evidence_case(actor, case_id), {}, {})


@router.post("/cases/{case_id}/evidence/add")
def post_evidence(
    request: Request,
    case_id: int,
    actor: Actor = Depends(acting),
    form: FormData = Depends(evidence_form),
) -> Response:
    """Keep more evidence: the same checks, storage and audit as at intake."""
    case = evidence_case(actor, case_id)
    source = str(form.get("evidence_source") or "").strip()[:500]
    settings = get_settings()
    files, problem = check_evidence(
        read_uploads(form),
        max_bytes=settings.max_file_bytes,
        max_files=settings.max_files,
        required=True,
    )
    if problem:
        errors = {"evidence": problem + " Nothing was kept: attach the files again."}
        return evidence_page(request, case, {"evidence_source": source}, errors, 400)
    try:
        add_late_evidence(case.id, actor.id, files, source)
    except CaseNotOpen as exc:
        raise AppError(409, str(exc)) from None
    return back_to(case_id, "evidence")


# --- Corrections --------------------------------------------------------------------------


def correct_page(
    request: Request, case: Case, values: dict[str, str], errors: dict[str, str], status: int = 200
) -> Response:
    platforms = list(PLATFORMS.values())
    if case.platform not in platforms:
        platforms.insert(0, case.platform)
    fields = correctable(case.incident_type)
    return case_form(
        request, "case_correct", case, values, errors, status, fields=fields, platforms=platforms
    )


@router.get("/cases/{case_id}/correct")
def show_corrections(request: Request, case_id: int, actor: Actor = Depends(acting)) -> Response:
    case = detached_case(actor, case_id, Action.CORRECT_CASE)
    answers = {name: as_typed(value) for name, value in current_answers(case).items()}
    return correct_page(request, case, answers, {})


@router.post("/cases/{case_id}/correct")
def post_corrections(
    request: Request,
    case_id: int,
    actor: Actor = Depends(acting),
    form: FormData = Depends(posted_form),
) -> Response:
    posted = {k: str(v) for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}
    with transaction() as session:
        case = viewable_case(session, actor, case_id, Action.CORRECT_CASE)
        changes, reason, errors = check_corrections(
            case.incident_type, current_answers(case), posted
        )
        if not errors:
            correct(session, case, get_person(session, actor.id), changes, reason)
            return back_to(case_id, "corrected")
        session.expunge(case)
    return correct_page(request, case, posted, errors, 400)


# --- Withdrawal and reopening --------------------------------------------------------------


@router.get("/cases/{case_id}/withdraw")
def show_withdraw(request: Request, case_id: int, actor: Actor = Depends(acting)) -> Response:
    case = detached_case(actor, case_id, Action.WITHDRAW_CASE)
    if case.status != CaseStatus.OPEN:
        raise AppError(409, "Only an open case can be withdrawn.")
    return case_form(request, "case_withdraw", case, {}, {})


@router.post("/cases/{case_id}/withdraw")
def post_withdraw(
    request: Request,
    case_id: int,
    actor: Actor = Depends(acting),
    form: FormData = Depends(posted_form),
) -> Response:
    """Withdraw a case reported in error, then cancel its run on the workflow server."""
    reason = str(form.get("reason") or "").strip()
    with transaction() as session:
        case = viewable_case(session, actor, case_id, Action.WITHDRAW_CASE)
        problem = reason_problem(reason)
        if not problem:
            try:
                withdraw(session, case, get_person(session, actor.id), reason)
            except CaseNotOpen as exc:
                raise AppError(409, str(exc)) from None
        run_id = case.flow_run_id
        session.expunge(case)
    if problem:
        return case_form(
            request, "case_withdraw", case, {"reason": reason}, {"reason": problem}, 400
        )
    if run_id:
        stop_run(case_id, run_id)
    return back_to(case_id, "withdrawn")


def stop_run(case_id: int, run_id: str) -> None:
    """Cancel the run; if Prefect cannot be reached, the run stops at its next step anyway."""
    from flows.trigger import cancel_case_flow  # Prefect: see the imports above

    try:
        cancel_case_flow(run_id)
    except Exception as exc:
        log.warning("case %s: run %s not cancelled yet (%s)", case_id, run_id, exc)


def reopen_page(
    request: Request, case: Case, values: dict[str, str], errors: dict[str, str], status: int = 200
) -> Response:
    with reading() as session:
        choices = redo_choices(session, case)
    return case_form(request, "case_reopen", case, values, errors, status, choices=choices)


@router.get("/cases/{case_id}/reopen")
def show_reopen(request: Request, case_id: int, actor: Actor = Depends(acting)) -> Response:
    case = detached_case(actor, case_id, Action.WITHDRAW_CASE)
    if case.status == CaseStatus.OPEN:
        raise AppError(409, "This case is already open.")
    return reopen_page(request, case, {}, {})


@router.post("/cases/{case_id}/reopen")
def post_reopen(
    request: Request,
    case_id: int,
    actor: Actor = Depends(acting),
    form: FormData = Depends(posted_form),
) -> Response:
    """Open the case again, then run its procedure from where it stands."""
    reason = str(form.get("reason") or "").strip()
    redo = str(form.get("redo") or "") or None
    errors: dict[str, str] = {}
    with transaction() as session:
        case = viewable_case(session, actor, case_id, Action.WITHDRAW_CASE)
        if reason_problem(reason):
            errors["reason"] = reason_problem(reason)
        else:
            try:
                reopen(session, case, get_person(session, actor.id), reason, redo)
            except CaseNotOpen as exc:
                if case.status == CaseStatus.OPEN:
                    raise AppError(409, str(exc)) from None
                errors["redo"] = str(exc)
        run_id = case.flow_run_id
        session.expunge(case)
    if errors:
        return reopen_page(request, case, {"reason": reason, "redo": redo or ""}, errors, 400)
    run_again(case_id, run_id, actor)
    return back_to(case_id, "reopened")


def run_again(case_id: int, run_id: str | None, actor: Actor) -> None:
    """Start the reopened case's run again; if Prefect refuses, the case page offers it.
    A case that never had a run gets one from the worker, as a new case does."""
    from flows.trigger import restart_case_flow  # Prefect: see the imports above

    if run_id is None:
        return
    try:
        if restart_case_flow(run_id):
            return
        problem = "The workflow server would not start the procedure again."
    except Exception as exc:
        problem = f"The workflow server could not be reached ({type(exc).__name__})."
    with transaction() as session:
        record_event(
            session,
            case_id=case_id,
            kind=AuditKind.FLOW_STOPPED,
            actor=get_person(session, actor.id),
            data={"flow_run_id": run_id, "state": "stopped", "message": problem, "since": ""},
        )
