"""School settings that the headteacher or DSL edit: the stock response to parents."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from api.deps import allowed, posted_form, unit_of_work
from api.pages import render_page
from api.security import Visitor
from core.access import Action
from core.enums import AuditKind
from db.audit import record_event
from db.people import get_person
from db.schools import get_school, set_stock_response
from db.session import Session
from services.advice import stock_response_text

router = APIRouter()
MAX_STOCK = 3000
editor = allowed(Action.MANAGE_SETTINGS)


@router.get("/admin/stock-response")
def show(
    request: Request, seen: Visitor = Depends(editor), session: Session = Depends(unit_of_work)
) -> Response:
    school = get_school(session, seen.school_id)
    return render_page(
        request,
        "pages/admin_stock_response.html",
        values={"text": stock_response_text(school)},
        errors={},
        custom=bool(school.stock_response.strip()),
        saved=request.query_params.get("saved") == "1",
    )


@router.post("/admin/stock-response")
def update(
    request: Request,
    seen: Visitor = Depends(editor),
    form: FormData = Depends(posted_form),
    session: Session = Depends(unit_of_work),
) -> Response:
    text = str(form.get("text") or "").strip()
    if form.get("reset") == "1":
        text = ""
    elif not 20 <= len(text) <= MAX_STOCK:
        return render_page(
            request,
            "pages/admin_stock_response.html",
            status_code=400,
            values={"text": text},
            custom=True,
            saved=False,
            errors={"text": f"Write the reply in 20 to {MAX_STOCK:,} characters."},
        )
    set_stock_response(session, seen.school_id, text)
    record_event(
        session,
        case_id=None,
        kind=AuditKind.SCHOOL_STOCK_RESPONSE_CHANGED,
        actor=get_person(session, seen.person.id),
        data={"characters": len(text), "school_id": seen.school_id},
    )
    return RedirectResponse("/admin/stock-response?saved=1", status_code=303)
