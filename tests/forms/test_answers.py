"""Every answer a report keeps reads in words: its label, the form's wording for a choice,
people by name, in the form's order; no stored key or raw value shows."""

from __future__ import annotations

import re

import pytest

from core.enums import IncidentType
from forms.answers import HIDDEN_KEYS, QUESTIONS, answers_of, people_in
from forms.online_abuse import CONTENT_KINDS, RESPONSIBLE, TARGETS
from forms.parent_contact import CONTACT_KINDS
from forms.staff_conduct import CONCERN_KINDS
from tests.report_answers import reported

SNAKE = re.compile(r"\b[a-z]+_[a-z_]+\b")
STAFF = {7: "Amy Fletcher"}
# What a form keeps rather than what it shows: its choices' keys and Python's own words.
STORED = {
    *TARGETS,
    *CONTENT_KINDS,
    *RESPONSIBLE,
    *CONCERN_KINDS,
    *CONTACT_KINDS,
    *("True", "False", "None", "yes", "no", "unsure"),
}


def raw_values_in(answers: list[tuple[str, str]]) -> list[str]:
    """Labels that are field names, and answers that are stored values or Python lists."""
    found = [label for label, _ in answers if SNAKE.search(label) or label.endswith(" id")]
    for _, value in answers:
        if value.startswith("[") or set(value.split("; ")) & STORED:
            found.append(value)
    return found


@pytest.mark.parametrize("kind", list(IncidentType))
def test_every_kept_answer_has_a_question_in_the_forms_order(kind: IncidentType) -> None:
    report = reported(kind, subject_id=7)
    keys = [q.key for q in QUESTIONS[kind]]
    kept = set(report.details) - HIDDEN_KEYS
    assert kept <= set(keys), f"answers {kind} keeps with no label: {kept - set(keys)}"
    answers = answers_of(report, STAFF)
    labels = [label for label, _ in answers]
    expected = [q.label for q in QUESTIONS[kind] if not q.only_if_given]
    assert labels == expected, "every answer, in the order the form asks"
    assert raw_values_in(answers) == []


def test_online_abuse_reads_as_the_form_offered_it() -> None:
    answers = dict(answers_of(reported(IncidentType.ONLINE_ABUSE), {}))
    assert answers["Who was targeted"] == "Another member of staff"
    assert answers["Kind of content"] == (
        "Racist; Hate crime (hostility because of disability, religion, sexual orientation "
        "or transgender identity)"
    )
    assert answers["Who is thought to be responsible"] == "A current pupil"
    assert answers["The member of staff thought responsible"] == "Not a member of staff"
    assert answers["Email address of the person responsible"] == "Not given"
    assert answers["Was the material still online when it was reported?"] == (
        "Yes, it was still there"
    )
    assert answers["Links or account names"] == "https://instagram.example/p/1\n@angry_account"
    assert answers["When it happened"] == "20 November 2026, 18:30"
    assert answers["Platform"] == "Instagram"


def test_me_is_said_as_who_reported_it() -> None:
    answers = dict(answers_of(reported(IncidentType.ONLINE_ABUSE, target="me", target_name=""), {}))
    assert answers["Who was targeted"] == "The member of staff who reported it"


def test_people_are_named_and_a_missing_one_is_said_so() -> None:
    report = reported(IncidentType.STAFF_CONDUCT, subject_id=7)
    assert people_in(report) == {7}
    about = "The member of staff the report is about"
    assert dict(answers_of(report, STAFF))[about] == "Amy Fletcher"
    assert dict(answers_of(report, {}))[about] == "A person Casework no longer holds"
    assert dict(answers_of(report, STAFF))["Could any child be at risk?"] == (
        "Yes, or the person reporting was not sure"
    )
    staff_named = reported(
        IncidentType.ONLINE_ABUSE, responsible="staff_member", responsible_staff_id="7"
    )
    assert people_in(staff_named) == {7}
    shown = dict(answers_of(staff_named, STAFF))
    assert shown["The member of staff thought responsible"] == "Amy Fletcher"


def test_safeguarding_answers_and_later_additions_show_only_when_kept() -> None:
    plain = dict(answers_of(reported(IncidentType.PUPIL_CONTACT), {}))
    assert plain["Did the material include sexual images of a child?"] == "No, it did not"
    assert "What the images show and where they are" not in plain
    assert "Pupil's date of birth" not in plain
    images = reported(
        IncidentType.PUPIL_CONTACT,
        sexual_images="yes",
        image_description="Two photos in a group chat on the pupil's phone.",
    )
    images.details["pupil_date_of_birth"] = "2014-03-27"
    shown = answers_of(images, {})
    labels = [label for label, _ in shown]
    assert labels.index("Pupil's date of birth") == labels.index("Admission number or UPN") + 2
    assert dict(shown)["Pupil's date of birth"] == "27 March 2014"
    assert dict(shown)["What the images show and where they are"] == (
        "Two photos in a group chat on the pupil's phone."
    )


def test_blank_and_unknown_answers_still_read_in_words() -> None:
    report = reported(IncidentType.PARENT_CONTACT, child_year_group="")
    report.details["called_the_office"] = True  # kept by a form of an earlier version
    del report.details["responded"]
    answers = answers_of(report, {})
    shown = dict(answers)
    assert shown["Their child's year group"] == "Not known"
    assert shown["Had the member of staff replied when they reported it?"] == "Not given"
    assert shown["How they made contact"] == "A friend or follow request"
    assert answers[-1] == ("Called the office", "Yes"), "an answer no form asks now comes last"
    assert "platform_key" not in str(answers) and "instagram" not in str(answers)


def test_the_check_for_raw_values_finds_them() -> None:
    raw = [("pupil_year_group", "Year 6"), ("Who", "current_pupil"), ("Kinds", "['racist']")]
    assert raw_values_in(raw) == ["pupil_year_group", "current_pupil", "['racist']"]
