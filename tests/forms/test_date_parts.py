"""A date typed into day, month and year boxes and a time box, read as UK time."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from forms.common import DateParts, join_date_parts, parse_clock, parse_date_parts


@pytest.mark.parametrize(
    ("typed", "clock"),
    [
        ("14:30", (14, 30)),
        ("14.30", (14, 30)),
        ("2:30pm", (14, 30)),
        ("2.30 p.m.", (14, 30)),
        ("12am", (0, 0)),
        ("12pm", (12, 0)),
        ("9", (9, 0)),
        ("noon", (12, 0)),
    ],
)
def test_times_are_read_as_people_write_them(typed: str, clock: tuple[int, int]) -> None:
    assert parse_clock(typed) == clock


def test_a_summer_time_is_uk_time() -> None:
    when = parse_date_parts(DateParts("1", "July", "2026", "9:05am"))
    assert when == datetime(2026, 7, 1, 8, 5, tzinfo=UTC), "BST is an hour ahead of UTC"


def test_a_winter_time_is_uk_time() -> None:
    when = parse_date_parts(DateParts("20", "nov", "2025", "18:30"))
    assert when == datetime(2025, 11, 20, 18, 30, tzinfo=UTC)


def test_the_boxes_are_joined_and_nothing_else_is_touched() -> None:
    data = {"occurred_at-day": "3", "occurred_at-year": "2026", "platform": "x"}
    joined = join_date_parts(data, "occurred_at")
    assert joined == {"platform": "x", "occurred_at": DateParts("3", "", "2026", "")}
    assert join_date_parts({"platform": "x"}, "occurred_at") == {"platform": "x"}


def test_the_hour_with_am_or_pm_is_one_to_twelve() -> None:
    with pytest.raises(ValueError, match="the hour is 1 to 12"):
        parse_clock("14pm")
