"""Passing work on from the case page: a waiting request to someone else, or the whole case
to a new lead. The work is services/handover.py; who may is core/access.py.

A form with a problem (nobody chosen, no reason, someone the rules do not allow) comes back
on the case page with the problem beside it and what was typed kept; nothing is changed.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from api.deps import acting, posted_form
from api.errors import AppError
from api.handover_view import FormState
from api.routes.cases import case_page, load_case
from api.views import case_with_facts
from core.access import Action, Actor, may_hand_on
from db.models import Approval, Case, CaseStatus
from db.people import get_person
from db.session import Session, transaction
from forms.common import validate
from forms.handover import HandOverForm
from services.handover import HandOverRefused, pass_on, reassign_lead
from services.requests import waiting_request

router = APIRouter()
FIELDS = ("to", "reason")


def typed(form: FormData) -> dict[str, str]:
    return {name: str(form.get(name) or "") for name in FIELDS}


def request_to_pass_on(
    session: Session, actor: Actor, case_id: int, step_key: str
) -> tuple[Case, Approval]:
    """The waiting request, if this person may pass it on: otherwise a 404, 409 or 403."""
    case, facts = case_with_facts(session, actor, case_id)
    approval = waiting_request(session, case.id, step_key)
    if approval is None or case.status != CaseStatus.OPEN:
        raise AppError(409, "That step is not waiting for anyone, so there is nothing to pass on.")
    if not may_hand_on(actor, facts, approval.approver_id):
        raise AppError(
            403,
            "Only the person who holds this request, the headteacher or the designated "
            "safeguarding lead can pass it on.",
        )
    return case, approval


def problems(prefix: str, errors: dict[str, str]) -> dict[str, str]:
    """The form's problems keyed by the element they belong to on the case page."""
    return {f"{prefix}-{name}": message for name, message in errors.items()}


def handed_over(
    request: Request,
    actor: Actor,
    case_id: int,
    prefix: str,
    values: dict[str, str],
    errors: dict[str, str],
    what: str,
) -> Response:
    """Back to the case page: with the form and its problems, or saying what was handed on."""
    if errors:
        state = FormState(prefix, values, problems(prefix, errors))
        return case_page(request, load_case(actor, case_id), 400, handover_form=state)
    return RedirectResponse(f"/cases/{case_id}?handed={what}", status_code=303)


@router.post("/cases/{case_id}/requests/{step_key}/pass-on")
def pass_request_on(
    request: Request,
    case_id: int,
    step_key: str,
    actor: Actor = Depends(acting),
    form: FormData = Depends(posted_form),
) -> Response:
    """Give a waiting request to someone else, with a reason."""
    values = typed(form)
    model, errors = validate(HandOverForm, values)
    with transaction() as session:
        case, approval = request_to_pass_on(session, actor, case_id, step_key)
        if model is not None:
            try:
                person = get_person(session, actor.id)
                pass_on(session, case, approval, model.to, person, model.reason)
            except HandOverRefused as exc:  # refused before anything changed
                errors = {"to": str(exc)}
    return handed_over(request, actor, case_id, f"pass-{step_key}", values, errors, "request")


@router.post("/cases/{case_id}/lead")
def change_lead(
    request: Request,
    case_id: int,
    actor: Actor = Depends(acting),
    form: FormData = Depends(posted_form),
) -> Response:
    """Make someone else the case lead, with a reason; their requests go with the case."""
    values = typed(form)
    model, errors = validate(HandOverForm, values)
    with transaction() as session:
        case, _ = case_with_facts(session, actor, case_id, Action.REASSIGN)
        if case.status != CaseStatus.OPEN:
            raise AppError(409, "This case is closed, so its lead can no longer change.")
        if model is not None:
            try:
                reassign_lead(session, case, model.to, get_person(session, actor.id), model.reason)
            except HandOverRefused as exc:  # refused before anything changed
                errors = {"to": str(exc)}
    return handed_over(request, actor, case_id, "lead", values, errors, "lead")
