"""A report's last steps in a browser: check the answers, send them, and the confirmation.

The draft (services/drafts.py) is its owner's alone: anyone else, and any token that is
not one, gets the same 404. Sending it opens the case exactly as a one-step report does
(services/intake.open_reported_case), once, however often it is pressed.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from api.deps import allowed, posted_form
from api.errors import AppError
from api.pages import render_page
from api.routes.report_form import (
    Held,
    already_sent,
    check_answers,
    draft_values,
    file_size,
    form_page,
    gone_page,
    incident,
    new_case,
    own_draft,
    staff_of_visitor,
)
from api.security import Visitor
from core.access import Action
from core.enums import IncidentType
from core.procedures import procedure_for
from db.cases import CaseNotFound, get_case
from db.session import reading
from forms.answers import answer_rows
from forms.incident import IncidentForm
from services.drafts import LIFETIME, AlreadySending, DraftFilesLost, save_draft, send_draft

router = APIRouter()
reporter = allowed(Action.REPORT)


@router.get("/report/{slug}/check/{token}")
def check(
    request: Request,
    token: str,
    seen: Visitor = Depends(reporter),
    kind: IncidentType = Depends(incident),
) -> Response:
    """Every answer of the draft with its label, each with a link back to change it."""
    found = checked_draft(request, token, seen, kind)
    if isinstance(found, Response):
        return found
    held, model, staff = found
    return check_page(request, kind, held, model, staff)


def checked_draft(
    request: Request, token: str, seen: Visitor, kind: IncidentType
) -> tuple[Held, IncidentForm, list[dict[str, Any]]] | Response:
    """The visitor's draft with its answers checked again, or the page to show instead: the
    draft is gone, or something changed since (a colleague named has left), to put right on
    the form."""
    held = own_draft(token, seen, kind)
    gone = gone_page(request, held)
    if gone is not None:
        return gone
    staff = staff_of_visitor(seen)
    model, errors = check_answers(kind, held.draft.answers, staff)
    if model is None or errors:
        return form_page(request, kind, draft_values(held.draft), errors, staff, 400, held)
    return held, model, staff


def check_page(
    request: Request,
    kind: IncidentType,
    held: Held,
    model: IncidentForm,
    staff: list[dict[str, Any]],
) -> Response:
    people = {s["id"]: s["name"] for s in staff}
    return render_page(
        request,
        "pages/report_check.html",
        procedure=procedure_for(kind),
        rows=answer_rows(new_case(kind, model), people),
        draft=held.draft,
        token=held.token,
        change=f"/report/{kind.value}?draft={held.token}",
        images=model.safeguarding,
        keep_until=held.draft.created_at + LIFETIME,
        size_of=file_size,
    )


@router.post("/report/{slug}/check/{token}")
def send(
    request: Request,
    token: str,
    seen: Visitor = Depends(reporter),
    kind: IncidentType = Depends(incident),
    _: FormData = Depends(posted_form),
) -> Response:
    """Open the case from the draft, then show the confirmation."""
    found = checked_draft(request, token, seen, kind)
    if isinstance(found, Response):
        return found
    held, model, staff = found
    try:
        case_id = send_draft(held.draft, new_case(kind, model))
    except AlreadySending:
        return already_sent(request, held.draft)
    except DraftFilesLost as lost:
        return files_lost(request, kind, held, staff, str(lost))
    return RedirectResponse(f"/report/sent/{case_id}", status_code=303)


def files_lost(
    request: Request, kind: IncidentType, held: Held, staff: list[dict[str, Any]], name: str
) -> Response:
    """A file of the draft could not be read back as it was attached: the draft lets go of
    its files and the form asks for them again, every answer kept."""
    draft = held.draft
    save_draft(
        (draft.person_id, draft.school_id),
        kind,
        draft.answers,
        [],
        draft.evidence_source,
        earlier=(held.token, draft),
    )
    errors = {"evidence": f"We could not read back {name}. Attach your evidence again."}
    kept = Held(held.token, replace(draft, files=()))
    return form_page(request, kind, draft_values(draft), errors, staff, 400, kept)


@router.get("/report/sent/{case_id}")
def sent(request: Request, case_id: int, seen: Visitor = Depends(reporter)) -> Response:
    """The confirmation: the case's reference and what happens next, for whoever sent it."""
    with reading() as session:
        try:
            case = get_case(session, case_id)
        except CaseNotFound:
            case = None
        if case is None or case.reporter_id != seen.person.id:
            raise AppError(404, "There is no report of yours at this address.")
        facts = {
            "id": case.id,
            "reference": case.reference,
            "incident_type": case.incident_type.value,
            "safeguarding": case.safeguarding,
        }
        procedure = procedure_for(case.incident_type)
    return render_page(request, "pages/report_sent.html", case=facts, procedure=procedure)
