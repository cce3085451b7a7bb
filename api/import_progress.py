"""How far a parents import running in this web process has got, for the page's progress bar.

Kept in memory: an import lasts seconds, and the page that polls it was served by the same
process. If it was not (several web processes), the page simply shows no figures.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass

from core.parent_directory import Progress

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
        """A progress callback for `import_parents` that reports here."""

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
