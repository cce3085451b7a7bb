"""School administration: the list of parents and carers."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from api.deps import allowed, checked_form
from api.import_progress import progress_answer, tracked
from api.pages import render_page
from api.security import Visitor
from core.access import Action
from core.parent_directory import ImportResult
from core.progress import Progress
from core.settings import get_settings
from db.parent_directory import save_import
from db.people import letter_recipients
from db.session import reading, transaction
from forms.parent_directory import check_file

router = APIRouter()
ERRORS_SHOWN = 200
keeper = allowed(Action.MANAGE_PARENTS)


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
    request: Request, seen: Visitor, result: ImportResult | None = None, status_code: int = 200
) -> Response:
    return render_page(
        request,
        "pages/admin_parents.html",
        status_code=status_code,
        counts=directory_counts(seen.school_id),
        result=result,
        errors_shown=ERRORS_SHOWN,
        max_mb=get_settings().max_file_bytes // (1024 * 1024),
        # Chosen here so the page can ask how its import is going while it runs.
        import_id=secrets.token_urlsafe(18),
    )


@router.get("/admin/parents")
def show_parents(request: Request, seen: Visitor = Depends(keeper)) -> Response:
    return parents_page(request, seen)


def run_import(
    seen: Visitor, filename: str, data: bytes, progress: Progress | None = None
) -> ImportResult:
    """The whole file in one transaction: saved entirely, or not at all."""
    # Checked before the transaction opens: nobody else's save waits while a big file is read.
    rows, result = check_file(data, progress)
    if not result.ok:
        return result
    with transaction() as session:
        return save_import(
            session,
            seen.school_id,
            rows,
            result,
            source=filename,
            actor_id=seen.person.id,
            progress=progress,
        )


def tracked_import(seen: Visitor, import_id: str, filename: str, data: bytes) -> ImportResult:
    """Run the import, reporting its progress under `import_id` when the page sent one."""
    with tracked(import_id, seen.person.id) as run:
        result = run_import(seen, filename, data, run.progress)
        run.finish(result.ok, result.rows)
    return result


@router.post("/admin/parents")
async def upload_parents(
    request: Request,
    form: FormData = Depends(checked_form()),
    seen: Visitor = Depends(keeper),
) -> Response:
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        failed = ImportResult(errors=["Choose the CSV file of parents and carers to upload."])
        return await run_in_threadpool(parents_page, request, seen, failed, 400)
    data = await upload.read()
    limit = get_settings().max_file_bytes
    if len(data) > limit:
        failed = ImportResult(
            errors=[f"{upload.filename} is larger than {limit // (1024 * 1024)} MB."]
        )
        return await run_in_threadpool(parents_page, request, seen, failed, 400)
    import_id = str(form.get("import_id") or "")
    result = await run_in_threadpool(tracked_import, seen, import_id, upload.filename, data)
    return await run_in_threadpool(parents_page, request, seen, result, 200 if result.ok else 400)


@router.get("/admin/parents/imports/{import_id}")
def import_progress(import_id: str, seen: Visitor = Depends(keeper)) -> Response:
    """How far the signed-in person's running import has got, for the progress bar."""
    return progress_answer(import_id, seen.person.id)
