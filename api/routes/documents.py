"""Printable case documents: HR and police packs, and the meeting invitation."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from api.errors import AppError
from api.routes.cases import viewable_case
from api.security import require_user
from core.pdf import render_pdf
from db.audit import record_event
from db.cases import step_is_settled
from db.models import Person
from db.session import transaction
from flows.steps.meeting import render_invitation
from flows.steps.packs import PACKS, render_pack

router = APIRouter()


def load_pack(user: Person, case_id: int, kind: str) -> str:
    with transaction() as session:
        case = viewable_case(session, user, case_id)
        record_event(
            session,
            case_id=case.id,
            kind="pack.viewed",
            actor=session.get(Person, user.id),
            data={"pack": kind},
        )
        return render_pack(session, case.id, kind)


@router.get("/cases/{case_id}/packs/{name}")
async def case_pack(request: Request, case_id: int, name: str) -> Response:
    """The pack as it stands: a page to read (`hr`) or a PDF to send (`hr.pdf`)."""
    user = require_user(request)
    kind, as_pdf = name.removesuffix(".pdf"), name.endswith(".pdf")
    if kind not in PACKS:
        raise AppError(404, "There is no such pack. Packs: HR and police.")
    html = await run_in_threadpool(load_pack, user, case_id, kind)
    return await document(html, as_pdf, f"case-{case_id}-{kind}-pack.pdf")


async def document(html: str, as_pdf: bool, filename: str) -> Response:
    """The same rendering as a web page or, for printing and sending, as a PDF."""
    if not as_pdf:
        return HTMLResponse(html)
    data = await run_in_threadpool(render_pdf, html)
    return Response(
        data,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def load_invitation(user: Person, case_id: int) -> str:
    with transaction() as session:
        case = viewable_case(session, user, case_id)
        if not step_is_settled(session, case.id, "invite_to_meeting"):
            raise AppError(404, "This case has no meeting invitation yet.")
        return render_invitation(session, case).html


@router.get("/cases/{case_id}/letters/{name}")
async def meeting_invitation(request: Request, case_id: int, name: str) -> Response:
    """The meeting invitation, the same letter that was emailed, to print or post."""
    user = require_user(request)
    if name not in ("meeting-invitation", "meeting-invitation.pdf"):
        raise AppError(404, "There is no such letter on this case.")
    html = await run_in_threadpool(load_invitation, user, case_id)
    return await document(html, name.endswith(".pdf"), f"case-{case_id}-meeting-invitation.pdf")
