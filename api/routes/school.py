"""School settings that the headteacher or DSL edit: the stock response to parents."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from api.pages import render_page
from api.security import check_csrf, require_manager
from db.audit import record_event
from db.models import Person, School
from db.session import transaction
from flows.steps.advice import stock_response_text

router = APIRouter()
MAX_STOCK = 3000


def require_editor(request: Request) -> Person:
    return require_manager(request, "change the school's settings")


def current_text(school_id: int) -> tuple[str, bool]:
    """The stock response in use, and whether it is the school's own wording."""
    with transaction() as session:
        school = session.get(School, school_id)
        assert school is not None
        return stock_response_text(school), bool(school.stock_response.strip())


@router.get("/admin/stock-response")
async def show(request: Request) -> Response:
    user = require_editor(request)
    text, custom = await run_in_threadpool(current_text, user.school_id)
    return render_page(
        request,
        "pages/admin_stock_response.html",
        values={"text": text},
        errors={},
        custom=custom,
        saved=request.query_params.get("saved") == "1",
    )


def save(user: Person, text: str) -> None:
    with transaction() as session:
        school = session.get(School, user.school_id)
        assert school is not None
        school.stock_response = text
        record_event(
            session,
            case_id=None,
            kind="school.stock_response_changed",
            actor=session.get(Person, user.id),
            data={"characters": len(text)},
        )


@router.post("/admin/stock-response")
async def update(request: Request) -> Response:
    user = require_editor(request)
    form = await request.form()
    check_csrf(request, form)
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
    await run_in_threadpool(save, user, text)
    return RedirectResponse("/admin/stock-response?saved=1", status_code=303)
