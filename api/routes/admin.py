"""School administration: the list of parents and carers, and the printed letters to them."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from api.errors import AppError
from api.import_progress import IMPORT_ID, Stage, tracker
from api.pages import render_page
from api.routes.cases import viewable_case
from api.security import check_csrf, require_manager, require_user
from core.files import letter_files
from core.parent_directory import ImportResult, Progress
from core.settings import get_settings
from db.audit import record_event
from db.models import Person, PrintFile, Role
from db.parent_directory import save_import
from db.people import letter_recipients
from db.session import reading, transaction
from flows.steps.letters import mark_printed, print_file_of
from forms.parent_directory import check_file

router = APIRouter()
DIRECTORY_KEEPERS = (Role.HEADTEACHER, Role.DSL)
ERRORS_SHOWN = 200


def require_keeper(request: Request) -> Person:
    return require_manager(request, "manage the list of parents and carers")


@dataclass(frozen=True)
class DirectoryCounts:
    total: int
    by_email: int
    by_post: int
    unreachable: int


def directory_counts(school_id: int) -> DirectoryCounts:
    with reading() as session:
        found = letter_recipients(session, school_id)
        by_email, by_post = len(found.by_email), len(found.by_post)
        return DirectoryCounts(
            by_email + by_post + len(found.unreachable), by_email, by_post, len(found.unreachable)
        )


def parents_page(
    request: Request, user: Person, result: ImportResult | None = None, status_code: int = 200
) -> Response:
    return render_page(
        request,
        "pages/admin_parents.html",
        status_code=status_code,
        counts=directory_counts(user.school_id),
        result=result,
        errors_shown=ERRORS_SHOWN,
        max_mb=get_settings().max_file_bytes // (1024 * 1024),
        # Chosen here so the page can ask how its import is going while it runs.
        import_id=secrets.token_urlsafe(18),
    )


@router.get("/admin/parents")
async def show_parents(request: Request) -> Response:
    user = require_keeper(request)
    return await run_in_threadpool(parents_page, request, user)


def run_import(
    user: Person, filename: str, data: bytes, progress: Progress | None = None
) -> ImportResult:
    """The whole file in one transaction: saved entirely, or not at all."""
    # Checked before the transaction opens: nobody else's save waits while a big file is read.
    rows, result = check_file(data, progress)
    if not result.ok:
        return result
    with transaction() as session:
        return save_import(
            session,
            user.school_id,
            rows,
            result,
            source=filename,
            actor_id=user.id,
            progress=progress,
        )


def tracked_import(user: Person, import_id: str, filename: str, data: bytes) -> ImportResult:
    """Run the import, reporting its progress under `import_id` when the page sent one."""
    if not IMPORT_ID.fullmatch(import_id):
        return run_import(user, filename, data)
    tracker.report(import_id, user.id, Stage("checking", 0, 0))
    try:
        result = run_import(user, filename, data, tracker.reporter(import_id, user.id))
    except BaseException:
        tracker.report(import_id, user.id, Stage("failed", 0, 0))
        raise
    outcome = "done" if result.ok else "failed"
    tracker.report(import_id, user.id, Stage(outcome, result.rows, result.rows))
    return result


@router.post("/admin/parents")
async def upload_parents(request: Request) -> Response:
    form = await request.form()
    check_csrf(request, form)
    user = require_keeper(request)
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        failed = ImportResult(errors=["Choose the CSV file of parents and carers to upload."])
        return await run_in_threadpool(parents_page, request, user, failed, 400)
    data = await upload.read()
    limit = get_settings().max_file_bytes
    if len(data) > limit:
        failed = ImportResult(
            errors=[f"{upload.filename} is larger than {limit // (1024 * 1024)} MB."]
        )
        return await run_in_threadpool(parents_page, request, user, failed, 400)
    import_id = str(form.get("import_id") or "")
    result = await run_in_threadpool(tracked_import, user, import_id, upload.filename, data)
    return await run_in_threadpool(parents_page, request, user, result, 200 if result.ok else 400)


@router.get("/admin/parents/imports/{import_id}")
async def import_progress(request: Request, import_id: str) -> Response:
    """How far the signed-in person's running import has got, for the progress bar."""
    user = require_keeper(request)
    stage = tracker.get(import_id, user.id)
    if stage is None:
        raise AppError(404, "There is no import with that reference running for you.")
    return JSONResponse(
        {"stage": stage.stage, "done": stage.done, "total": stage.total},
        headers={"Cache-Control": "no-store"},
    )


# --- Printed letters: the office downloads the PDF and records that it was printed --------


def load_print_file(user: Person, case_id: int, file_id: int) -> tuple[PrintFile, str]:
    """The print file and the case reference, if `user` may see the case; logs the download."""
    with transaction() as session:
        case = viewable_case(session, user, case_id)
        row = print_file_of(session, case.id, file_id)
        if row is None:
            raise AppError(404, "That file of printed letters is not part of this case.")
        record_event(
            session,
            case_id=case.id,
            kind="letter.print_downloaded",
            actor=session.get(Person, user.id),
            data={"print_file_id": row.id, "sha256": row.sha256},
        )
        session.expunge(row)
        return row, case.reference


@router.get("/cases/{case_id}/print/{file_id}")
async def download_print_file(request: Request, case_id: int, file_id: int) -> Response:
    """The print-ready PDF of postal letters, to people who may see the case."""
    user = require_user(request)
    row, reference = await run_in_threadpool(load_print_file, user, case_id, file_id)
    data = await run_in_threadpool(letter_files().path(row.stored_name).read_bytes)
    return Response(
        data,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{reference}-letters-{row.id}.pdf"',
            "X-Content-SHA256": row.sha256,
            "Content-Security-Policy": "default-src 'none'; sandbox",
        },
    )


def record_printed(user: Person, case_id: int, file_id: int) -> None:
    with transaction() as session:
        case = viewable_case(session, user, case_id)
        row = print_file_of(session, case.id, file_id)
        if row is None:
            raise AppError(404, "That file of printed letters is not part of this case.")
        person = session.get(Person, user.id)
        assert person is not None
        mark_printed(session, row, person)


@router.post("/cases/{case_id}/print/{file_id}/printed")
async def mark_print_file_printed(request: Request, case_id: int, file_id: int) -> Response:
    """Record that the office has printed the letters (once; later presses change nothing)."""
    form = await request.form()
    check_csrf(request, form)
    user = require_user(request)
    if user.role == Role.AUDITOR:
        raise AppError(403, "Auditors read cases; they do not record printing.")
    await run_in_threadpool(record_printed, user, case_id, file_id)
    return RedirectResponse(f"/cases/{case_id}#letters", status_code=303)
