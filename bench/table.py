"""The one table `make bench` ends with: every benchmark's saved figures, floors and goals.

Not a benchmark: it reads what the benchmarks saved through bench/results.py (by default
in var/bench/) and prints one line a figure: the benchmark, the figure, its value and unit,
its floor, the ratio of the two, the goal and whether it was met.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from results import RESULTS_DIR, Figure, load_all  # noqa: E402  (bench/ is the script's folder)

HEADINGS = ("benchmark", "figure", "value", "floor", "ratio", "goal", "met")


def number(value: float) -> str:
    """A figure with as many digits as it needs to be read, no more."""
    if value == 0 or abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def verdict(met: bool | None) -> str:
    if met is None:
        return ""
    return "ok" if met else "MISSED"


def row(figure: Figure) -> tuple[str, ...]:
    ratio = figure.ratio
    return (
        figure.bench,
        figure.name,
        f"{number(figure.value)} {figure.unit}",
        "" if figure.floor is None else f"{number(figure.floor)} {figure.unit}",
        "" if ratio is None else f"{ratio:.2f}",
        figure.goal,
        verdict(figure.met),
    )


def render(figures: list[Figure]) -> str:
    """The table, columns as wide as their widest cell; numbers to the right."""
    rows = [HEADINGS, *(row(f) for f in figures)]
    widths = [max(len(r[n]) for r in rows) for n in range(len(HEADINGS))]
    right = {2, 3, 4}

    def line(cells: tuple[str, ...]) -> str:
        padded = (
            cell.rjust(widths[n]) if n in right else cell.ljust(widths[n])
            for n, cell in enumerate(cells)
        )
        return "  ".join(padded).rstrip()

    rule = "-" * len(line(HEADINGS))
    return "\n".join([line(HEADINGS), rule, *(line(r) for r in rows[1:]), rule])


def main() -> int:
    figures = load_all()
    if not figures:
        print(f"No saved figures in {RESULTS_DIR}: run the benchmarks first.")
        return 0
    print()
    print(render(figures))
    missed = sum(1 for f in figures if f.met is False)
    print(f"{len(figures)} figures, {missed} goal(s) missed; saved in {RESULTS_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
