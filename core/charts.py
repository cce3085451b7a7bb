"""Bar charts as SVG markup, drawn on the server: they need no JavaScript, print as they are
shown, and WeasyPrint draws the same markup into the governors' report.

Every chart is a horizontal bar chart (one row per label, the count written beside its bar),
which reads the same on a phone and on paper and needs no legend. It is an image with a
title and a description that says every figure (`role="img"`, `aria-labelledby`), and the
page puts a table of the same figures beside it. One dark colour on white, well past the 3:1
contrast graphics need; nothing is told by colour alone. Colours are SVG attributes, not
style attributes, so the pages' Content-Security-Policy (no inline styles) lets them through.
Why no charting library: see DECISIONS.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from markupsafe import Markup

WIDTH = 400  # the drawing's own units; it scales to the width it is given
LABEL_HEIGHT = 18
BAR_HEIGHT = 14
ROW_GAP = 10
TOP = 6
VALUE_ROOM = 56  # on the right of the longest bar, for its count
BAR_COLOUR = "#1d4f91"  # 8.6:1 on white
TEXT_COLOUR = "#0b0c0c"
FONT = "DejaVu Sans, Arial, sans-serif"


@dataclass(frozen=True)
class Bar:
    label: str
    value: int


def _ends(bars: list[Bar]) -> float:
    """Drawing units per count: the longest bar leaves room for its number."""
    biggest = max((b.value for b in bars), default=0)
    return (WIDTH - VALUE_ROOM) / biggest if biggest else 0.0


def _row(index: int, bar: Bar, scale: float) -> str:
    top = TOP + index * (LABEL_HEIGHT + BAR_HEIGHT + ROW_GAP)
    bar_top = top + LABEL_HEIGHT
    length = bar.value * scale
    # A count of zero still gets a sliver, so each row shows where its bar would be.
    drawn = max(length, 1.5)
    return (
        f'<text x="0" y="{top + 13}" font-size="13" fill="{TEXT_COLOUR}">'
        f"{escape(bar.label)}</text>"
        f'<rect x="0" y="{bar_top}" width="{drawn:.1f}" height="{BAR_HEIGHT}" '
        f'fill="{BAR_COLOUR}"/>'
        f'<text x="{drawn + 6:.1f}" y="{bar_top + 12}" font-size="13" font-weight="bold" '
        f'fill="{TEXT_COLOUR}">{bar.value:,}</text>'
    )


def bar_chart(chart_id: str, title: str, bars: list[Bar], unit: str = "cases") -> Markup:
    """An accessible horizontal bar chart; `chart_id` must be unique on the page."""
    scale = _ends(bars)
    rows = "".join(_row(i, bar, scale) for i, bar in enumerate(bars))
    height = TOP + len(bars) * (LABEL_HEIGHT + BAR_HEIGHT + ROW_GAP)
    said = "; ".join(f"{b.label}: {b.value:,}" for b in bars) or "nothing to show"
    desc = f"{title}, in {unit}. {said}."
    return Markup(
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" role="img" '
        f'viewBox="0 0 {WIDTH} {height}" width="100%" preserveAspectRatio="xMinYMin meet" '
        f'font-family="{FONT}" aria-labelledby="{chart_id}-title {chart_id}-desc">'
        f'<title id="{chart_id}-title">{escape(title)}</title>'
        f'<desc id="{chart_id}-desc">{escape(desc)}</desc>'
        f"{rows}</svg>"
    )
