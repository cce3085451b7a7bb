"""How far an import running in this web process has got, for its page's progress bar.

The parents import and the people import both report here and both pages poll it, through
`tracked` and `progress_answer`, with the same script (`api/static/import-progress.js`).
Kept in memory: an import lasts seconds, and the page that polls it was served by the same
process. If it was not (several web processes), the page simply shows no figures.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from fastapi.responses import JSONResponse, Response

from api.errors import AppError
from core.progress import Progress

KEEP_SECONDS = 600.0
IMPORT_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")


@dataclass(frozen=True)
class Stage:
    """One report: `stage` is "checking", "saving" or "done"; `done` of `total` lines."""

    stage: str
    done: int
    total: int


class ImportTracker:
    """Progress of each running import, by the id its page chose, visible to its owner only."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._imports: dict[str, tuple[int, Stage, float]] = {}

    def report(self, import_id: str, owner_id: int, stage: Stage) -> None:
        now = time.monotonic()
        with self._lock:
            self._forget_old(now)
            known = self._imports.get(import_id)
            if known is None or known[0] == owner_id:  # nobody may overwrite another's
                self._imports[import_id] = (owner_id, stage, now)

    def reporter(self, import_id: str, owner_id: int) -> Progress:
        """A progress callback for an import that reports here."""

        def progress(stage: str, done: int, total: int) -> None:
            self.report(import_id, owner_id, Stage(stage, done, total))

        return progress

    def get(self, import_id: str, owner_id: int) -> Stage | None:
        with self._lock:
            known = self._imports.get(import_id)
        if known is None or known[0] != owner_id:
            return None
        return known[1]

    def _forget_old(self, now: float) -> None:
        stale = [key for key, (_, _, at) in self._imports.items() if now - at > KEEP_SECONDS]
        for key in stale:
            del self._imports[key]


tracker = ImportTracker()


class TrackedImport:
    """One import's reports, under the id its page chose; silent if the page sent none."""

    def __init__(self, import_id: str, owner_id: int) -> None:
        self.key = (import_id, owner_id) if IMPORT_ID.fullmatch(import_id) else None

    @property
    def progress(self) -> Progress | None:
        """The callback to hand the import, or None when nobody is watching."""
        return tracker.reporter(*self.key) if self.key else None

    def report(self, stage: str, done: int = 0, total: int = 0) -> None:
        if self.key:
            tracker.report(*self.key, Stage(stage, done, total))

    def finish(self, ok: bool, lines: int) -> None:
        """How the import ended: "done" with the lines saved, or "failed"."""
        self.report("done" if ok else "failed", lines, lines)


@contextmanager
def tracked(import_id: str, owner_id: int) -> Iterator[TrackedImport]:
    """Report an import from its start ("checking") to its end; an error ends it "failed".

    The import reports its lines through `progress`; the caller ends with `finish`.
    """
    run = TrackedImport(import_id, owner_id)
    run.report("checking")
    try:
        yield run
    except BaseException:
        run.report("failed")
        raise


def progress_answer(import_id: str, owner_id: int) -> Response:
    """What a page polling its import is told: the stage and the lines done, or a 404."""
    stage = tracker.get(import_id, owner_id)
    if stage is None:
        raise AppError(404, "There is no import with that reference running for you.")
    return JSONResponse(
        {"stage": stage.stage, "done": stage.done, "total": stage.total},
        headers={"Cache-Control": "no-store"},
    )
