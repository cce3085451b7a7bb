"""Printable case documents: HR and police packs, and the meeting invitation."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from api.deps import acting
from api.errors import AppError
from api.pages import document
from api.views import log_access, viewable_case
from core.access import Action, Actor
from core.enums import AuditKind, StepKey
from db.cases import step_is_done
from db.session import transaction
from services.meeting import render_invitation
from services.packs import PACKS, render_pack

router = APIRouter()
INVITATION = "meeting-invitation"


def load_pack(actor: Actor, case_id: int, kind: str) -> str:
    with transaction() as session:
        case = viewable_case(session, actor, case_id, Action.VIEW_RECORD)
        log_access(session, case, actor, AuditKind.PACK_VIEWED, pack=kind)
        return render_pack(session, case.id, kind)


@router.get("/cases/{case_id}/packs/{name}")
def case_pack(case_id: int, name: str, actor: Actor = Depends(acting)) -> Response:
    """The pack as it stands: a page to read (`hr`) or a PDF to send (`hr.pdf`)."""
    kind, as_pdf = name.removesuffix(".pdf"), name.endswith(".pdf")
    if kind not in PACKS:
        raise AppError(404, "There is no such pack. Packs: HR and police.")
    html = load_pack(actor, case_id, kind)
    return document(html, as_pdf, f"case-{case_id}-{kind}-pack.pdf")


def load_invitation(actor: Actor, case_id: int) -> str:
    with transaction() as session:
        case = viewable_case(session, actor, case_id, Action.VIEW_RECORD)
        if not step_is_done(session, case.id, StepKey.INVITE_TO_MEETING):
            raise AppError(
                404,
                "This case has no meeting invitation: Casework writes one only when the "
                "procedure invites the person responsible to a meeting, once that step is done.",
            )
        return render_invitation(session, case).html


@router.get("/cases/{case_id}/letters/{name}")
def meeting_invitation(case_id: int, name: str, actor: Actor = Depends(acting)) -> Response:
    """The meeting invitation, the same letter that was emailed, to print or post."""
    if name not in (INVITATION, f"{INVITATION}.pdf"):
        raise AppError(404, "There is no such letter on this case.")
    html = load_invitation(actor, case_id)
    return document(html, name.endswith(".pdf"), f"case-{case_id}-{INVITATION}.pdf")
