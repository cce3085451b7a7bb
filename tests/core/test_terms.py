"""School terms: every day in exactly one term, and the settings that shape them."""

from __future__ import annotations

from datetime import UTC, date, datetime
from itertools import pairwise

import pytest

from core.terms import (
    DEFAULT_TERM_STARTS,
    DateRange,
    Season,
    parse_term_starts,
    previous_term,
    recent_terms,
    term_by_key,
    term_of,
)

STARTS = parse_term_starts(DEFAULT_TERM_STARTS)


@pytest.mark.parametrize(
    ("day", "key", "first", "last"),
    [
        (date(2026, 9, 1), "2026-autumn", date(2026, 9, 1), date(2026, 12, 31)),
        (date(2026, 12, 31), "2026-autumn", date(2026, 9, 1), date(2026, 12, 31)),
        (date(2027, 1, 1), "2027-spring", date(2027, 1, 1), date(2027, 3, 31)),
        (date(2027, 4, 1), "2027-summer", date(2027, 4, 1), date(2027, 8, 31)),
        (date(2027, 8, 31), "2027-summer", date(2027, 4, 1), date(2027, 8, 31)),
    ],
)
def test_each_day_falls_in_one_term(day: date, key: str, first: date, last: date) -> None:
    term = term_of(day, STARTS)
    assert (term.key, term.days.first, term.days.last) == (key, first, last)
    assert term_by_key(key, STARTS) == term


def test_terms_follow_one_another_without_a_gap() -> None:
    terms = recent_terms(date(2027, 5, 10), STARTS, count=7)
    assert [t.key for t in terms][:4] == [
        "2027-summer",
        "2027-spring",
        "2026-autumn",
        "2026-summer",
    ]
    for later, earlier in pairwise(terms):
        assert (later.days.first - earlier.days.last).days == 1
        assert previous_term(later, STARTS) == earlier
    assert terms[0].label == "Summer term 2027"


def test_a_school_may_set_its_own_term_dates() -> None:
    starts = parse_term_starts("09-03, 01-05, 04-20")
    autumn = term_of(date(2026, 12, 30), starts)
    assert autumn.season == Season.AUTUMN and autumn.days.last == date(2027, 1, 4)
    assert term_of(date(2027, 1, 4), starts).key == "2026-autumn"
    assert term_of(date(2026, 9, 2), starts).key == "2026-summer"


@pytest.mark.parametrize("spec", ["09-01,01-01", "13-01,01-01,04-01", "01-01,04-01,09-01", "x,y,z"])
def test_term_dates_that_make_no_sense_are_refused(spec: str) -> None:
    with pytest.raises(ValueError):
        parse_term_starts(spec)


@pytest.mark.parametrize("key", ["2026-winter", "26-autumn", "autumn", "２０２６-autumn"])
def test_an_unknown_term_is_refused(key: str) -> None:
    with pytest.raises(ValueError):
        term_by_key(key, STARTS)


def test_a_range_is_counted_in_uk_days_and_months() -> None:
    days = DateRange(date(2026, 3, 15), date(2026, 5, 2))
    assert days.start == datetime(2026, 3, 15, 0, 0, tzinfo=UTC)  # still GMT
    assert days.end == datetime(2026, 5, 2, 23, 0, tzinfo=UTC)  # midnight BST on 3 May
    assert days.months() == [date(2026, 3, 1), date(2026, 4, 1), date(2026, 5, 1)]
    assert days.month_edges() == [
        datetime(2026, 3, 31, 23, 0, tzinfo=UTC),
        datetime(2026, 4, 30, 23, 0, tzinfo=UTC),
    ]
