"""`casework import-parents FILE`: the file checked, then saved into the school in one go."""

from __future__ import annotations

from pathlib import Path

from casework.admin_cli import NoSuchSchool, resolve_school
from core.parent_directory import ImportResult
from core.progress import Progress
from db.parent_directory import save_import
from db.session import transaction
from forms.parent_directory import FileProblem, check_file


def import_parents_file(
    path: Path, *, school: str | None = None, progress: Progress | None = None
) -> ImportResult:
    """Import a CSV file into the school (by number or name), all in one transaction."""
    # Checked before the transaction opens: SQLite's other writers need not wait for it.
    rows, result = check_file(path.read_bytes(), progress)
    if not result.ok:
        return result
    with transaction() as session:
        try:
            found = resolve_school(session, school)
        except NoSuchSchool as problem:
            raise FileProblem(str(problem)) from problem
        return save_import(session, found.id, rows, result, source=path.name, progress=progress)
