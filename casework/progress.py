"""The progress bar an import prints on a terminal as it checks and saves a file."""

from __future__ import annotations

from typing import TextIO


class TextProgress:
    """A one-line progress bar per stage, redrawn in place on a terminal stream."""

    WIDTH = 30

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def __call__(self, stage: str, done: int, total: int) -> None:
        filled = self.WIDTH * done // max(total, 1)
        bar = "#" * filled + "-" * (self.WIDTH - filled)
        end = "\n" if done >= total else ""
        self.stream.write(f"\r{stage.capitalize():9} [{bar}] {done:,}/{total:,}{end}")
        self.stream.flush()
