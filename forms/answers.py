"""Every answer a report keeps, in words: each with its label, in the order its form asks.

This is the one place that knows how each incident type's answers read: the case packs show
them, and the case page can. Choices read as the form offered them, yes/no answers as
sentences, people by name and times in UK time; nothing shows a stored key or raw value.
A case keeps some answers in its own columns (platform, time, description, the safeguarding
answer) and the rest in `details`, as each form's `details()` lays them out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from core.enums import IncidentType
from core.templating import day, local_time
from forms.online_abuse import CONTENT_KINDS, RESPONSIBLE, TARGETS
from forms.parent_contact import CONTACT_KINDS
from forms.staff_conduct import CONCERN_KINDS

NOT_GIVEN = "Not given"
UNKNOWN_PERSON = "A person Casework no longer holds"
# Kept for the procedure's branches only: the platform's own column holds its name.
HIDDEN_KEYS = frozenset({"platform_key"})
# "Me" on the form is the person reporting; a document must say who that is.
TARGETS_READ = {**TARGETS, "me": "The member of staff who reported it"}

Shown = Callable[[Any, Mapping[int, str]], str]


class Reported(Protocol):
    """What `answers_of` reads from a case (`db.models.Case` has all of it)."""

    @property
    def incident_type(self) -> IncidentType: ...
    @property
    def platform(self) -> str: ...
    @property
    def occurred_at(self) -> datetime: ...
    @property
    def description(self) -> str: ...
    @property
    def safeguarding(self) -> bool: ...
    @property
    def details(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Question:
    """One answer a report keeps: where it is kept, its label and how its value reads.

    `only_if_given` answers are kept only sometimes (asked after intake, or only after a
    yes), so they are left out rather than shown as not given."""

    key: str
    label: str
    shown: Shown
    only_if_given: bool = False


def _given(value: Any) -> bool:
    return value not in (None, "", [])


def text_or(empty: str) -> Shown:
    """Typed text as written; `empty` when the answer was left blank."""
    return lambda value, _: str(value).strip() if _given(value) else empty


text = text_or(NOT_GIVEN)


def when(value: Any, _: Mapping[int, str]) -> str:
    return local_time(value) if isinstance(value, datetime) else text(value, {})


def birth_date(value: Any, _: Mapping[int, str]) -> str:
    """Dates of birth are kept as YYYY-MM-DD."""
    try:
        return day(date.fromisoformat(str(value)))
    except ValueError:
        return text(value, {})


def choice(labels: Mapping[str, str], empty: str = NOT_GIVEN) -> Shown:
    """One option of a list, as the form offered it."""
    return lambda value, _: labels.get(str(value), str(value)) if _given(value) else empty


def several(labels: Mapping[str, str]) -> Shown:
    """Ticked options; semicolons, as some labels have commas of their own."""

    def shown(value: Any, _: Mapping[int, str]) -> str:
        items = value if isinstance(value, list) else [value]
        return "; ".join(labels.get(str(item), str(item)) for item in items if _given(item))

    return lambda value, people: shown(value, people) or NOT_GIVEN


def yes_no(yes: str, no: str) -> Shown:
    """A yes/no answer, kept either as true/false or as the form's "yes"/"no"."""

    def shown(value: Any, _: Mapping[int, str]) -> str:
        if not _given(value):
            return NOT_GIVEN
        return yes if value is True or value == "yes" else no

    return shown


def person_id(value: Any) -> int | None:
    """The id a person answer keeps, if it keeps one."""
    if isinstance(value, bool) or not _given(value):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def person(none: str) -> Shown:
    """A member of staff chosen from a list, by name."""

    def shown(value: Any, people: Mapping[int, str]) -> str:
        found = person_id(value)
        if found is None:
            return none
        return people.get(found, UNKNOWN_PERSON)

    return shown


PLATFORM = Question("platform", "Platform", text)
OCCURRED = Question("occurred_at", "When it happened", when)
DESCRIPTION = Question("description", "What happened", text)
WHERE_WHEN_WHAT = (PLATFORM, OCCURRED, DESCRIPTION)
SAFEGUARDING = (
    Question(
        "sexual_images",
        "Did the material include sexual images of a child?",
        yes_no("Yes, it did", "No, it did not"),
    ),
    Question(
        "image_description",
        "What the images show and where they are",
        text,
        only_if_given=True,
    ),
)


def pupil_birth_date(label: str) -> Question:
    """Not asked at intake: the case lead may add it as a correction (forms/corrections.py)."""
    return Question("pupil_date_of_birth", label, birth_date, only_if_given=True)


QUESTIONS: dict[IncidentType, tuple[Question, ...]] = {
    IncidentType.PUPIL_CONTACT: (
        *WHERE_WHEN_WHAT,
        Question("pupil_name", "Pupil's full name", text),
        Question("pupil_year_group", "Pupil's year group", text),
        Question("pupil_reference", "Admission number or UPN", text),
        Question("pupil_account", "The pupil's account name or profile link", text),
        pupil_birth_date("Pupil's date of birth"),
        Question(
            "contact_continued",
            "Did the pupil keep making contact?",
            yes_no("Yes, the contact continued", "No, it happened once"),
        ),
        *SAFEGUARDING,
    ),
    IncidentType.PARENT_CONTACT: (
        *WHERE_WHEN_WHAT,
        Question("parent_name", "Parent's or carer's name", text),
        Question("child_year_group", "Their child's year group", text_or("Not known")),
        Question("contact_kind", "How they made contact", choice(CONTACT_KINDS)),
        Question(
            "responded",
            "Had the member of staff replied when they reported it?",
            yes_no("Yes, they had replied", "No, they had not replied"),
        ),
        *SAFEGUARDING,
    ),
    IncidentType.ONLINE_ABUSE: (
        *WHERE_WHEN_WHAT,
        Question("target", "Who was targeted", choice(TARGETS_READ)),
        Question("target_name", "Name of the person targeted", text),
        Question("links", "Links or account names", text),
        Question("content_kinds", "Kind of content", several(CONTENT_KINDS)),
        Question("responsible", "Who is thought to be responsible", choice(RESPONSIBLE)),
        Question("responsible_name", "Name of the person responsible", text),
        Question(
            "responsible_staff_id",
            "The member of staff thought responsible",
            person("Not a member of staff"),
        ),
        Question("responsible_email", "Email address of the person responsible", text),
        pupil_birth_date("Date of birth of the pupil targeted"),
        Question(
            "still_online",
            "Was the material still online when it was reported?",
            yes_no("Yes, it was still there", "No, it had been taken down"),
        ),
        *SAFEGUARDING,
    ),
    IncidentType.STAFF_CONDUCT: (
        Question("subject_id", "The member of staff the report is about", person(NOT_GIVEN)),
        Question("subject_account", "Their account name or profile link", text),
        *WHERE_WHEN_WHAT,
        Question("concern_kind", "The concern", choice(CONCERN_KINDS)),
        Question(
            "child_at_risk",
            "Could any child be at risk?",
            yes_no("Yes, or the person reporting was not sure", "No"),
        ),
        *SAFEGUARDING,
    ),
}
PERSON_KEYS = frozenset({"subject_id", "responsible_staff_id"})


def kept_answers(case: Reported) -> dict[str, Any]:
    """Every answer of the case by its form's field name, wherever the case keeps it."""
    return {
        **(case.details or {}),
        "platform": case.platform,
        "occurred_at": case.occurred_at,
        "description": case.description,
        "sexual_images": case.safeguarding,
    }


def people_in(case: Reported) -> set[int]:
    """The ids of the people `answers_of` needs the names of."""
    details = case.details or {}
    found = (person_id(details.get(key)) for key in PERSON_KEYS)
    return {pid for pid in found if pid is not None}


def answers_of(case: Reported, people: Mapping[int, str]) -> list[tuple[str, str]]:
    """(label, answer in words) for every answer the case keeps, in its form's order.

    `people` names everyone `people_in(case)` gives. An answer no form asks today (kept by
    an older version) is still shown, last, under its field's name in words."""
    return [(label, shown) for _, label, shown in answer_rows(case, people)]


def answer_rows(case: Reported, people: Mapping[int, str]) -> list[tuple[str, str, str]]:
    """`answers_of` with each answer's form field name first: (field, label, answer).

    A report not yet sent reads the same way (its form's `NewCase` has all `Reported` asks),
    so a check of the answers shows each as the case will, with a link back to its field."""
    answers = kept_answers(case)
    questions = QUESTIONS.get(case.incident_type, WHERE_WHEN_WHAT)
    shown = [
        (q.key, q.label, q.shown(answers.get(q.key), people))
        for q in questions
        if not (q.only_if_given and not _given(answers.get(q.key)))
    ]
    asked = {q.key for q in questions} | HIDDEN_KEYS
    return shown + [
        (key, _as_label(key), _as_words(value))
        for key, value in answers.items()
        if key not in asked and _given(value)
    ]


def _as_label(key: str) -> str:
    """`pupil_year_group` -> "Pupil year group"."""
    return key.replace("_", " ").strip().capitalize()


def _as_words(value: Any) -> str:
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, list):
        return "; ".join(_as_words(item) for item in value)
    if isinstance(value, dict):
        return "; ".join(f"{_as_label(str(k))}: {_as_words(v)}" for k, v in value.items())
    return when(value, {})
