"""How far a long import has got, reported as it goes: one callback type for every import.

The file checks (`forms/`) and the saves (`db/`, `services/`) call `report`; the web app's
progress bar (`api/import_progress.py`) and the terminal's (`casework/progress.py`) receive
it.
"""

from __future__ import annotations

from collections.abc import Callable

# Called as progress(stage, done, total); stage is "checking" or "saving".
Progress = Callable[[str, int, int], None]
# Often enough to move a progress bar, seldom enough to cost nothing on a 5,000-line file.
PROGRESS_EVERY = 250


def report(progress: Progress | None, stage: str, done: int, total: int) -> None:
    """Tell `progress` how far `stage` has got, every PROGRESS_EVERY lines and at the end."""
    if progress and (done % PROGRESS_EVERY == 0 or done == total):
        progress(stage, done, total)
