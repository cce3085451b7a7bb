"""Review dates per record class, with and without the facts each rule needs, and a school's
own years (core/retention.py; the database side is in tests/api/test_retention.py)."""

from __future__ import annotations

from datetime import date
from typing import Any

from core.enums import IncidentType
from core.retention import (
    CaseDates,
    RecordClass,
    RetentionRules,
    classes_of,
    latest_birth_date,
    problem_with_years,
    review_of,
)

OPENED = date(2026, 11, 20)
CLOSED = date(2027, 1, 15)


def dates(kind: IncidentType, details: dict[str, Any], safeguarding: bool = False) -> CaseDates:
    return CaseDates(kind, details, safeguarding, OPENED, OPENED, CLOSED)


def test_a_pupil_record_is_kept_until_the_pupil_is_25() -> None:
    born = dates(IncidentType.PUPIL_CONTACT, {"pupil_date_of_birth": "2015-03-27"})
    assert review_of(born).on == date(2040, 3, 27)
    assert "date of birth" in review_of(born).basis


def test_without_a_date_of_birth_the_year_group_gives_the_latest_birth_date() -> None:
    # Year 6 in November 2026: born 1 September 2015 to 31 August 2016.
    assert latest_birth_date("Year 6", OPENED) == date(2016, 8, 31)
    assert latest_birth_date("Reception", date(2027, 3, 1)) == date(2022, 8, 31)
    year6 = dates(IncidentType.PUPIL_CONTACT, {"pupil_year_group": "Year 6"})
    assert review_of(year6).on == date(2041, 8, 31)


def test_with_neither_the_closing_date_is_counted_from() -> None:
    nothing = dates(IncidentType.PUPIL_CONTACT, {"pupil_name": "Jordan Miles"})
    assert review_of(nothing).on == date(2052, 1, 15)
    assert "no date of birth or year group" in review_of(nothing).basis


def test_an_allegation_about_staff_is_kept_ten_years_from_the_allegation() -> None:
    review = review_of(dates(IncidentType.STAFF_CONDUCT, {"child_at_risk": True}))
    assert (review.on, review.classes) == (date(2036, 11, 20), (RecordClass.STAFF,))


def test_other_incidents_are_kept_six_years_from_closing() -> None:
    review = review_of(dates(IncidentType.PARENT_CONTACT, {"parent_name": "Pat Evans"}))
    assert (review.on, review.classes) == (date(2033, 1, 15), (RecordClass.OTHER,))


def test_a_case_of_several_classes_is_kept_until_the_latest() -> None:
    both = {"target": "pupil", "responsible": "staff_member"}
    assert classes_of(IncidentType.ONLINE_ABUSE, both, False) == (
        RecordClass.PUPIL,
        RecordClass.STAFF,
    )
    assert review_of(dates(IncidentType.ONLINE_ABUSE, both)).on == date(2052, 1, 15)
    # Sexual images of a child make any case a pupil's safeguarding record too.
    assert classes_of(IncidentType.PARENT_CONTACT, {}, True) == (RecordClass.PUPIL,)
    assert classes_of(IncidentType.ONLINE_ABUSE, {"target": "school"}, False) == (
        RecordClass.OTHER,
    )


def test_a_school_s_own_years_apply_and_are_checked() -> None:
    rules = RetentionRules(pupil=30, staff=15, other=3)
    assert review_of(dates(IncidentType.PARENT_CONTACT, {}), rules).on == date(2030, 1, 15)
    assert review_of(dates(IncidentType.STAFF_CONDUCT, {}), rules).on == date(2041, 11, 20)
    assert RetentionRules.from_stored({"pupil": 30, "staff": 3, "other": "x"}) == RetentionRules(
        pupil=30
    )
    assert problem_with_years(RecordClass.PUPIL, "24")[1].startswith(
        "Pupil safeguarding records must be kept at least 25 years"
    )
    assert problem_with_years(RecordClass.OTHER, "six")[1] == (
        "Enter a whole number of years for other incidents."
    )
    assert problem_with_years(RecordClass.OTHER, " 7 ") == (7, "")


def test_29_february_becomes_28_february() -> None:
    leap = dates(IncidentType.PUPIL_CONTACT, {"pupil_date_of_birth": "2016-02-29"})
    assert review_of(leap).on == date(2041, 2, 28)
