"""Reporting an incident: the start page, the form and its validation.

A browser's report that passes its checks is kept as a draft for its sender to check and
send (api/routes/report_check.py, services/drafts.py); an API client's opens the case at
once, in one call to services/intake, as it always has.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from api.deps import allowed, posted_form, read_only, read_uploads
from api.errors import AppError, wants_json
from api.pages import render_page
from api.routes import report_check
from api.routes.report_form import (
    DRAFT,
    Held,
    already_sent,
    answers_in,
    check_answers,
    check_files,
    draft_values,
    form_page,
    form_values,
    gone_page,
    images_reported,
    incident,
    new_case,
    own_draft,
    report_form,
    source_in,
    staff_list,
    staff_of_visitor,
)
from api.security import Visitor
from core.access import Action
from core.enums import IncidentType
from db.session import Session
from forms.registry import INCIDENT_FORMS
from services.drafts import AlreadySending, being_sent, expired, forget_draft, save_draft
from services.intake import open_reported_case

__all__ = ["new_case", "router"]  # new_case: bench/hop.py opens cases as this form does

router = APIRouter()
router.include_router(report_check.router)
reporter = allowed(Action.REPORT)

# The start page's one question, its answers in the reporter's words, each with a hint.
WHAT_HAPPENED = "what_happened"
CHOICES: tuple[tuple[IncidentType, str, str], ...] = (
    (
        IncidentType.PUPIL_CONTACT,
        "A pupil contacted me on social media",
        "A friend or follow request, a message or a comment from a pupil at the school.",
    ),
    (
        IncidentType.PARENT_CONTACT,
        "A parent or carer contacted me on social media",
        "A friend or follow request, a message or a comment from a pupil's parent or carer.",
    ),
    (
        IncidentType.ONLINE_ABUSE,
        "Someone posted or sent abusive or offensive material",
        "About me, another member of staff, a pupil or the school.",
    ),
    (
        IncidentType.STAFF_CONDUCT,
        "A member of staff may have broken the social media policy",
        "What a colleague posted, shared or sent, or their contact with pupils.",
    ),
)
NO_CHOICE = "Choose what happened, so we can show you the right form."


def start_page(request: Request, errors: dict[str, str], status_code: int = 200) -> Response:
    return render_page(
        request,
        "pages/report_start.html",
        status_code=status_code,
        choices=CHOICES,
        question=WHAT_HAPPENED,
        errors=errors,
    )


@router.get("/report")
def start(request: Request, _: Visitor = Depends(reporter)) -> Response:
    """When to use Casework and when to go to someone first, then one question."""
    return start_page(request, {})


@router.post("/report")
def choose(
    request: Request, _: Visitor = Depends(reporter), form: FormData = Depends(posted_form)
) -> Response:
    """The start page's answer: on to that incident's form."""
    try:
        kind = IncidentType(str(form.get(WHAT_HAPPENED) or ""))
    except ValueError:
        return start_page(request, {WHAT_HAPPENED: NO_CHOICE}, status_code=400)
    return RedirectResponse(f"/report/{kind.value}", status_code=303)


@router.get("/report/{slug}")
def show_form(
    request: Request,
    seen: Visitor = Depends(reporter),
    kind: IncidentType = Depends(incident),
    session: Session = Depends(read_only),
    draft: str = "",
) -> Response:
    """The form; with `?draft=` (a Change link), filled in from the visitor's draft."""
    if not draft:
        return form_page(request, kind, values={}, errors={}, staff=staff_list(session, seen))
    held = own_draft(draft, seen, kind)
    gone = gone_page(request, held)
    if gone is not None:
        return gone
    staff = staff_list(session, seen)
    return form_page(request, kind, draft_values(held.draft), {}, staff, held=held)


@router.post("/report/{slug}")
def submit(
    request: Request,
    seen: Visitor = Depends(reporter),
    kind: IncidentType = Depends(incident),
    form: FormData = Depends(report_form),
) -> Response:
    """Check everything; a browser's report is then kept as a draft to check and send, an
    API client's opens the case at once. The worker starts its procedure either way
    (casework/handoff.py): the web app never waits for Prefect's server."""
    values = form_values(form, INCIDENT_FORMS[kind])
    held = None if wants_json(request) else changing(str(form.get(DRAFT) or ""), seen, kind)
    if held is not None and (held.draft.case_id is not None or being_sent(held.draft)):
        return already_sent(request, held.draft)
    staff = staff_of_visitor(seen)
    model, errors = check_answers(kind, values, staff)
    kept = len(held.draft.files) if held else 0
    files = check_files(kind, values, read_uploads(form), errors, kept)
    if model is None or errors:
        return rejected(request, kind, values, errors, staff, held)
    if wants_json(request):
        case_id = open_reported_case(
            seen.person.id, seen.school_id, new_case(kind, model), files, source_in(values)
        )
        return JSONResponse({"case_id": case_id, "url": f"/cases/{case_id}"}, status_code=201)
    earlier = (held.token, held.draft) if held else None
    try:
        token = save_draft(
            (seen.person.id, seen.school_id),
            kind,
            answers_in(values),
            files,
            source_in(values),
            earlier=earlier,
            keep_files=bool(kept) and not files and not images_reported(values),
        )
    except AlreadySending:
        assert held is not None  # only a draft being changed can have been sent meanwhile
        return already_sent(request, held.draft)
    return RedirectResponse(f"/report/{kind.value}/check/{token}", status_code=303)


def changing(token: str, seen: Visitor, kind: IncidentType) -> Held | None:
    """The visitor's draft this form changes, if it is theirs and not too old; an old one
    is deleted now, and the answers just typed make a new draft."""
    if not token:
        return None
    try:
        held = own_draft(token, seen, kind)
    except AppError:
        return None  # not theirs, or gone: the answers typed are not lost for it
    if expired(held.draft) and held.draft.case_id is None:
        forget_draft(held.draft)
        return None
    return held


def rejected(
    request: Request,
    kind: IncidentType,
    values: dict[str, Any],
    errors: dict[str, str],
    staff: list[dict[str, Any]],
    held: Held | None = None,
) -> Response:
    if wants_json(request):
        return JSONResponse(
            {"error": {"status": 400, "message": "The report has problems.", "fields": errors}},
            status_code=400,
        )
    return form_page(request, kind, values, errors, staff, status_code=400, held=held)
