"""A report of each incident type as its form keeps it: the answers a browser sends, read by
the real form, and the case columns and `details` that intake would store from them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.enums import IncidentType
from forms.common import validate
from forms.registry import INCIDENT_FORMS

COMMON = {
    "platform": "instagram",
    "occurred_at": "2026-11-20T18:30",
    "sexual_images": "no",
}
# Every answer each form asks, so every field it keeps has a value to show.
ANSWERS: dict[IncidentType, dict[str, Any]] = {
    IncidentType.PUPIL_CONTACT: {
        "description": "A pupil sent me a follow request and two direct messages.",
        "pupil_name": "Jordan Miles",
        "pupil_year_group": "Year 6",
        "pupil_reference": "A1234",
        "pupil_account": "@jay_k",
        "contact_continued": "yes",
    },
    IncidentType.PARENT_CONTACT: {
        "description": "A parent sent me a friend request late in the evening.",
        "parent_name": "Pat Evans",
        "child_year_group": "Year 4",
        "contact_kind": "friend_request",
        "responded": "no",
    },
    IncidentType.ONLINE_ABUSE: {
        "description": "A pupil's account posted racist comments under a photo of a colleague.",
        "target": "staff",
        "target_name": "Sara Novak",
        "links": "https://instagram.example/p/1\n@angry_account",
        "content_kinds": ["racist", "hate_crime"],
        "responsible": "current_pupil",
        "responsible_name": "Jay Kerr",
        "responsible_email": "",
        "still_online": "yes",
    },
    IncidentType.STAFF_CONDUCT: {
        "description": "A colleague messaged a pupil from a personal account.",
        "subject_account": "@amy_f",
        "concern_kind": "contact_with_pupils",
        "child_at_risk": "unsure",
    },
}


@dataclass
class Report:
    """What `forms.answers.answers_of` reads from a case, as intake would store it."""

    incident_type: IncidentType
    platform: str
    occurred_at: datetime
    description: str
    safeguarding: bool
    details: dict[str, Any]


def reported(kind: IncidentType, subject_id: int | None = None, **changes: Any) -> Report:
    """The report of `kind` read by its form (`subject_id` for a staff-conduct one)."""
    answers = {**COMMON, **ANSWERS[kind], **changes}
    if kind == IncidentType.STAFF_CONDUCT:
        answers.setdefault("subject_id", subject_id or 1)
    form, errors = validate(INCIDENT_FORMS[kind], answers)
    assert form is not None, errors
    return Report(
        kind,
        form.platform_label,
        form.occurred_at,
        form.description,
        form.safeguarding,
        form.details(),
    )
