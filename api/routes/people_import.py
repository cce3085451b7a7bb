"""Importing people from a CSV file (the MIS's or HR system's export), with its progress bar:
the whole file or, with any bad line, none of it. Split from api/routes/people.py, which adds
and changes people one at a time."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from api.deps import checked_form
from api.import_progress import progress_answer, tracked
from api.routes.people import me, people_admin, people_page
from api.security import Visitor
from core.progress import Progress
from core.settings import get_settings
from db.session import transaction
from forms.people import check_people_file
from services.people import PeopleProblem, import_people

router = APIRouter()


@dataclass(frozen=True)
class PeopleImport:
    """What importing a people file did: how many lines were saved, or why none were."""

    lines: int = 0
    added: int = 0
    updated: int = 0
    errors: list[str] = field(default_factory=list)


@router.post("/admin/people/import")
async def import_file(
    request: Request,
    seen: Visitor = Depends(people_admin),
    form: FormData = Depends(checked_form(max_files=1, max_fields=5)),
) -> Response:
    """A CSV from the MIS or HR system: all of it, or (with any bad line) none of it."""
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        problems = ["Choose the CSV file of people to import."]
        data = b""
    else:
        limit = get_settings().max_file_bytes
        data = await upload.read(limit + 1)
        problems = (
            [f"The file is larger than {limit // (1024 * 1024)} MB."] if len(data) > limit else []
        )
    import_id = str(form.get("import_id") or "")
    return await run_in_threadpool(finish_import, request, seen, import_id, data, problems)


def run_people_import(seen: Visitor, data: bytes, progress: Progress | None) -> PeopleImport:
    """Check the whole file, then save it in one transaction: everyone, or nobody."""
    # Checked before the transaction opens: nobody else's save waits while it is read.
    checked = check_people_file(data, progress)
    if not checked.ok:
        return PeopleImport(errors=checked.errors)
    try:
        with transaction() as session:
            added, updated = import_people(
                session, seen.school_id, checked.rows, me(session, seen), progress
            )
    except PeopleProblem as problem:
        return PeopleImport(errors=problem.problems)
    return PeopleImport(lines=len(checked.rows), added=added, updated=updated)


def finish_import(
    request: Request, seen: Visitor, import_id: str, data: bytes, problems: list[str]
) -> Response:
    if problems:
        done = PeopleImport(errors=problems)
    else:
        with tracked(import_id, seen.person.id) as run:
            done = run_people_import(seen, data, run.progress)
            run.finish(not done.errors, done.lines)
    if not done.errors:
        return RedirectResponse(
            f"/admin/people?done=imported-{done.added}-{done.updated}", status_code=303
        )
    with transaction() as session:
        return people_page(request, session, seen, import_errors=done.errors)


@router.get("/admin/people/imports/{import_id}")
def people_import_progress(import_id: str, seen: Visitor = Depends(people_admin)) -> Response:
    """How far the signed-in administrator's running import has got, for the progress bar."""
    return progress_answer(import_id, seen.person.id)
