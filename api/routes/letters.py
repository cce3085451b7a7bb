"""Letters to parents: how the letter to all parents is going (the JSON its pages poll), and
the printed letters, whose PDF the office downloads and records as printed."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse, RedirectResponse, Response

from api.deps import acting, posted_form, read_only, unit_of_work
from api.errors import AppError
from api.letter_progress import letter_progress
from api.pages import attachment
from api.views import log_access, viewable_case
from core.access import Action, Actor
from core.enums import AuditKind
from core.files import letter_files
from db.letters import mark_printed, print_file_of
from db.models import Case, PrintFile
from db.people import get_person
from db.session import Session

router = APIRouter()
NOT_IN_CASE = "That file of printed letters is not part of this case."


def print_file(
    session: Session, actor: Actor, case_id: int, file_id: int, action: Action
) -> tuple[Case, PrintFile]:
    """The print file and its case, if `actor` may do `action` on that case."""
    case = viewable_case(session, actor, case_id, action)
    row = print_file_of(session, case.id, file_id)
    if row is None:
        raise AppError(404, NOT_IN_CASE)
    return case, row


# Not under /cases/{id}/letters/: that is where the case's letters are read, by name.
@router.get("/cases/{case_id}/letter-progress")
def letter_progress_json(
    case_id: int,
    actor: Actor = Depends(acting),
    session: Session = Depends(read_only),
) -> Response:
    """How the letter to parents is going, for those who see it on the case page.

    Not logged as a look at the case: a page polls it every few seconds, and its figures name
    nobody. The case page that shows them is logged.
    """
    viewable_case(session, actor, case_id, Action.VIEW_RECORD)
    return JSONResponse(
        letter_progress(session, case_id).as_json(), headers={"Cache-Control": "no-store"}
    )


@router.get("/cases/{case_id}/print/{file_id}")
def download_print_file(
    case_id: int,
    file_id: int,
    actor: Actor = Depends(acting),
    session: Session = Depends(unit_of_work),
) -> Response:
    """The print-ready PDF of postal letters (parents' addresses): the people running it."""
    case, row = print_file(session, actor, case_id, file_id, Action.SEE_ADDRESSES)
    log_access(
        session,
        case,
        actor,
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
    actor: Actor = Depends(acting),
    session: Session = Depends(unit_of_work),
) -> Response:
    """Record that the office has printed the letters (once; later presses change nothing)."""
    _, row = print_file(session, actor, case_id, file_id, Action.WORK_CASE)
    mark_printed(session, row, get_person(session, actor.id))
    return RedirectResponse(f"/cases/{case_id}#letters", status_code=303)
