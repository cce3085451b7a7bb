"""Printed letters to parents: the office downloads the PDF and records that it was printed."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import RedirectResponse, Response

from api.deps import posted_form, signed_in, unit_of_work
from api.errors import AppError
from api.pages import attachment
from api.views import log_access, viewable_case
from core.enums import AuditKind, Role
from core.files import letter_files
from db.letters import mark_printed, print_file_of
from db.models import Case, Person, PrintFile
from db.people import get_person
from db.session import Session

router = APIRouter()
NOT_IN_CASE = "That file of printed letters is not part of this case."


def print_file(
    session: Session, user: Person, case_id: int, file_id: int
) -> tuple[Case, PrintFile]:
    """The print file and its case, if it belongs to a case `user` may see."""
    case = viewable_case(session, user, case_id)
    row = print_file_of(session, case.id, file_id)
    if row is None:
        raise AppError(404, NOT_IN_CASE)
    return case, row


@router.get("/cases/{case_id}/print/{file_id}")
def download_print_file(
    case_id: int,
    file_id: int,
    user: Person = Depends(signed_in),
    session: Session = Depends(unit_of_work),
) -> Response:
    """The print-ready PDF of postal letters, to people who may see the case."""
    case, row = print_file(session, user, case_id, file_id)
    log_access(
        session,
        case,
        user,
        AuditKind.LETTER_PRINT_DOWNLOADED,
        print_file_id=row.id,
        sha256=row.sha256,
    )
    return attachment(
        letter_files().path(row.stored_name).read_bytes(),
        "application/pdf",
        f"{case.reference}-letters-{row.id}.pdf",
        ("X-Content-SHA256", row.sha256),
    )


@router.post("/cases/{case_id}/print/{file_id}/printed", dependencies=[Depends(posted_form)])
def mark_print_file_printed(
    case_id: int,
    file_id: int,
    user: Person = Depends(signed_in),
    session: Session = Depends(unit_of_work),
) -> Response:
    """Record that the office has printed the letters (once; later presses change nothing)."""
    if user.role == Role.AUDITOR:
        raise AppError(403, "Auditors read cases; they do not record printing.")
    _, row = print_file(session, user, case_id, file_id)
    mark_printed(session, row, get_person(session, user.id))
    return RedirectResponse(f"/cases/{case_id}#letters", status_code=303)
