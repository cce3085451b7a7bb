"""One format for every benchmark's figures, so `make bench` can end with one table.

Each benchmark script measures its figures and their floors in the same run, prints them
its own way, and then saves them here (`save`); `bench/table.py` reads every saved file
and prints the one table: figure, floor, ratio and goal.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Where the figures of the last `make bench` are kept (var/ is never committed).
RESULTS_DIR = Path(os.environ.get("CASEWORK_BENCH_RESULTS", ROOT / "var" / "bench"))


@dataclass(frozen=True)
class Figure:
    """One measured figure, its floor measured in the same run, and the goal it is held to."""

    bench: str  # the script's name: "intake", "letters", ...
    name: str  # what was measured, in words: "intake POST p99, 20 clients"
    value: float
    unit: str  # "s", "ms", "messages/s", "cases/min", ...
    floor: float | None  # the same measure for the bare floor; None when there is none
    goal: str  # the goal in words: "ratio <= 1.5", "< 1 s"
    met: bool | None  # whether the goal was met; None when there is no goal

    @property
    def ratio(self) -> float | None:
        """The figure as a multiple of its floor."""
        if self.floor is None or self.floor == 0:
            return None
        return self.value / self.floor


def path_of(bench: str) -> Path:
    return RESULTS_DIR / f"{bench}.json"


def save(bench: str, figures: list[Figure]) -> Path:
    """Keep a benchmark's figures for the table, replacing its previous run's."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    target = path_of(bench)
    target.write_text(json.dumps([asdict(f) for f in figures], indent=2) + "\n")
    return target


def load_all() -> list[Figure]:
    """Every benchmark's saved figures, benchmark by benchmark."""
    if not RESULTS_DIR.is_dir():
        return []
    found: list[Figure] = []
    for file in sorted(RESULTS_DIR.glob("*.json")):
        found.extend(Figure(**row) for row in json.loads(file.read_text()))
    return found
