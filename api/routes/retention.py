"""Keeping records: the review queue, one case's review (keep longer, hold, release,
dispose) and subject access exports. For the headteacher and the DSL only."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from api.deps import allowed, posted_form, read_only, unit_of_work
from api.errors import AppError
from api.pages import attachment, render_page
from api.retention_views import queue_view, review_view
from api.security import Visitor
from api.views import viewable_case
from core.access import Action
from core.rules import looks_like_email
from db.people import get_person, people_of, person_at
from db.session import Session, reading, transaction
from db.subject_access import person_by_email
from forms.retention import check_dispose, check_keep, check_reason, check_subject
from services.retention import (
    RetentionProblem,
    dispose,
    hold,
    keep_longer,
    release,
    today,
)
from services.subject_access import produce

router = APIRouter()
reviewer = allowed(Action.REVIEW_RETENTION)
exporter = allowed(Action.SUBJECT_ACCESS)
FORMATS = ("html", "json")
REFERENCE = re.compile(r"CW-\d{4}-\d{5,}")
# What the review page says after each action.
DONE = {
    "kept": "The new review date is saved, with your reason, in the case's audit trail.",
    "held": "The case is under a legal hold: nobody can dispose of it until it is released.",
    "released": "The legal hold is released. The case can be disposed of once it is due.",
}


@router.get("/retention")
def queue(
    request: Request, seen: Visitor = Depends(reviewer), session: Session = Depends(read_only)
) -> Response:
    view = queue_view(session, seen.actor, seen.school_id, today())
    done = request.query_params.get("disposed", "")
    # Only a reference is echoed back: the address is not a place for messages.
    shown = done if REFERENCE.fullmatch(done) else ""
    return render_page(request, "pages/retention_queue.html", view=view, disposed=shown)


def review_page(
    request: Request,
    seen: Visitor,
    case_id: int,
    form: str = "",
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    """The case's review page; `form` names the form whose `errors` are shown."""
    with reading() as session:
        view = review_view(session, seen.actor, case_id, today())
    return render_page(
        request,
        "pages/retention_case.html",
        status_code=status,
        view=view,
        form=form,
        values=values or {},
        errors=errors or {},
        done=DONE.get(request.query_params.get("done", ""), ""),
    )


@router.get("/retention/cases/{case_id}")
def show_case_review(request: Request, case_id: int, seen: Visitor = Depends(reviewer)) -> Response:
    return review_page(request, seen, case_id)


def posted(form: FormData) -> dict[str, str]:
    return {k: str(v) for k, v in form.items() if isinstance(v, str) and k != "csrf_token"}


def act(
    request: Request,
    seen: Visitor,
    case_id: int,
    name: str,
    values: dict[str, str],
    errors: dict[str, str],
    change: Callable[[Session], None],
    done: str,
) -> Response:
    """Check the case may be seen, then make the change in one unit of work; any problem
    shows the page again with the form's values and what is wrong (400, or 409 when the
    case is in a state that refuses it)."""
    status = 400
    if not errors:
        try:
            with transaction() as session:
                viewable_case(session, seen.actor, case_id)
                change(session)
            return RedirectResponse(f"/retention/cases/{case_id}?done={done}", status_code=303)
        except RetentionProblem as problem:
            field = f"{name}_reason" if problem.field == "reason" else problem.field
            errors = {field or name: str(problem)}
            status = 400 if problem.field else 409
    else:
        with reading() as session:
            viewable_case(session, seen.actor, case_id)
    return review_page(request, seen, case_id, name, values, errors, status)


@router.post("/retention/cases/{case_id}/keep")
def post_keep(
    request: Request,
    case_id: int,
    seen: Visitor = Depends(reviewer),
    form: FormData = Depends(posted_form),
) -> Response:
    values = posted(form)
    until, reason, errors = check_keep(values)

    def change(session: Session) -> None:
        assert until is not None
        keep_longer(session, case_id, get_person(session, seen.person.id), until, reason)

    return act(request, seen, case_id, "keep", values, errors, change, "kept")


@router.post("/retention/cases/{case_id}/hold")
def post_hold(
    request: Request,
    case_id: int,
    seen: Visitor = Depends(reviewer),
    form: FormData = Depends(posted_form),
) -> Response:
    values = posted(form)
    reason, errors = check_reason(values, "hold_reason")

    def change(session: Session) -> None:
        hold(session, case_id, get_person(session, seen.person.id), reason)

    return act(request, seen, case_id, "hold", values, errors, change, "held")


@router.post("/retention/cases/{case_id}/release")
def post_release(
    request: Request,
    case_id: int,
    seen: Visitor = Depends(reviewer),
    form: FormData = Depends(posted_form),
) -> Response:
    values = posted(form)
    reason, errors = check_reason(values, "release_reason")

    def change(session: Session) -> None:
        release(session, case_id, get_person(session, seen.person.id), reason)

    return act(request, seen, case_id, "release", values, errors, change, "released")


@router.post("/retention/cases/{case_id}/dispose")
def post_dispose(
    request: Request,
    case_id: int,
    seen: Visitor = Depends(reviewer),
    form: FormData = Depends(posted_form),
) -> Response:
    """Dispose of the case (the service refuses a held, open or not yet due case)."""
    values = posted(form)
    with reading() as session:
        reference = viewable_case(session, seen.actor, case_id).reference
    reason, errors = check_dispose(values, reference)
    if not errors:
        try:
            done = dispose(case_id, seen.person.id, reason)
        except RetentionProblem as problem:
            field = "dispose_reason" if problem.field == "reason" else problem.field
            status = 400 if problem.field else 409
            problem_at = {field or "dispose": str(problem)}
            return review_page(request, seen, case_id, "dispose", values, problem_at, status)
        return RedirectResponse(f"/retention?disposed={done.reference}", status_code=303)
    return review_page(request, seen, case_id, "dispose", values, errors, 400)


# --- Subject access ------------------------------------------------------------------------


def subject_form(
    request: Request,
    session: Session,
    school_id: int,
    values: dict[str, str],
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    people = [(p.id, f"{p.name} ({p.role.label})") for p in people_of(session, school_id)]
    return render_page(
        request,
        "pages/subject_access.html",
        status_code=status,
        people=people,
        values=values,
        errors=errors,
    )


@router.get("/retention/subject-access")
def show_subject_access(
    request: Request, seen: Visitor = Depends(exporter), session: Session = Depends(read_only)
) -> Response:
    return subject_form(request, session, seen.school_id, {}, {})


@router.get("/retention/subject-access/export")
def subject_access_export(
    request: Request, seen: Visitor = Depends(exporter), session: Session = Depends(unit_of_work)
) -> Response:
    """Everything held about one person, as a page to read and print or as JSON; logged."""
    values = {k: v for k, v in request.query_params.items() if k in ("person", "name", "format")}
    fmt = values.get("format", "html")
    if fmt not in FORMATS:
        raise AppError(404, "Subject access exports are a page (html) or a file (json).")
    person_id, name, errors = check_subject(values)
    person = person_at(session, seen.school_id, person_id) if person_id is not None else None
    if person_id is not None and person is None:
        errors = {"person": "Choose the person from the list."}
    if person is None and looks_like_email(name):
        # A parent or carer is found by their address: the school may have thousands.
        person = person_by_email(session, seen.school_id, name)
        if person is None:
            errors = {"name": "Nobody at this school has that email address in Casework."}
    if errors:
        return subject_form(request, session, seen.school_id, values, errors, 400)
    export = produce(
        session, get_person(session, seen.person.id), seen.school_id, person, name, fmt
    )
    if fmt == "json":
        body = json.dumps(export.as_json(), indent=2, ensure_ascii=False).encode()
        sha = hashlib.sha256(body).hexdigest()
        filename = f"subject-access-{export.name.replace(' ', '-').lower()}.json"
        return attachment(body, "application/json", filename, ("X-Export-SHA256", sha))
    query: dict[str, Any] = {"person": person.id} if person else {"name": name}
    return render_page(request, "pages/subject_access_export.html", export=export, query=query)
