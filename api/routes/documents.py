"""Printable case documents: HR and police packs, and the meeting invitation."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, Response

from api.deps import acting
from api.errors import AppError
from api.pages import DOCUMENT_CSP, attachment, document
from api.views import log_access, viewable_case
from core.access import Action, Actor
from core.enums import AuditKind, StepKey
from db.cases import step_is_done
from db.models import CasePack
from db.session import transaction
from services.meeting import render_invitation
from services.packs import PACKS, NoPack, PackDamaged, pack_bytes, produced_pack

log = logging.getLogger("casework.api")
router = APIRouter()
INVITATION = "meeting-invitation"
# `hr`, `hr.pdf`: the latest HR pack; `hr-1`, `hr-1.pdf`: the first one produced.
PACK_NAME = re.compile(r"(?P<kind>[a-z]+)(?:-(?P<number>[1-9][0-9]{0,3}))?(?P<pdf>\.pdf)?")
SHA256_HEADER = "X-Content-SHA256"


@dataclass(frozen=True)
class PackName:
    kind: str
    number: int | None
    as_pdf: bool


def pack_name(name: str) -> PackName:
    """Which pack a path names; 404 for a name that is not one."""
    found = PACK_NAME.fullmatch(name)
    if found is None or found["kind"] not in PACKS:
        raise AppError(404, "There is no such pack. Packs: HR and police.")
    number = int(found["number"]) if found["number"] else None
    return PackName(found["kind"], number, bool(found["pdf"]))


def load_pack(actor: Actor, case_id: int, wanted: PackName) -> tuple[str, CasePack]:
    """The case's reference and the stored pack asked for; the look is in the trail."""
    with transaction() as session:
        case = viewable_case(session, actor, case_id, Action.VIEW_RECORD)
        try:
            row = produced_pack(session, case, wanted.kind, wanted.number)
        except NoPack as exc:
            raise AppError(404, str(exc), "There is no such pack") from None
        log_access(session, case, actor, AuditKind.PACK_VIEWED, pack=wanted.kind, pack_id=row.id)
        return case.reference, row


@router.get("/cases/{case_id}/packs/{name}")
def case_pack(case_id: int, name: str, actor: Actor = Depends(acting)) -> Response:
    """The pack as it was produced, byte for byte: a page to read (`hr`) or the PDF that was
    made with it (`hr.pdf`); `hr-1` is the first HR pack if there were several."""
    wanted = pack_name(name)
    reference, row = load_pack(actor, case_id, wanted)
    try:
        data = pack_bytes(row, wanted.as_pdf)
    except PackDamaged as exc:
        log.error("case %s: %s", reference, exc)
        raise AppError(
            500,
            "The stored copy of this pack is missing or has changed since it was produced, so "
            "it is not shown. Tell whoever runs Casework: the audit trail has its fingerprint.",
        ) from None
    if not wanted.as_pdf:
        headers = {"Content-Security-Policy": DOCUMENT_CSP, SHA256_HEADER: row.html_sha256}
        return HTMLResponse(data, headers=headers)
    number = f"-{wanted.number}" if wanted.number else ""
    filename = f"{reference}-{wanted.kind}-pack{number}.pdf"
    return attachment(data, "application/pdf", filename, (SHA256_HEADER, row.pdf_sha256))


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
