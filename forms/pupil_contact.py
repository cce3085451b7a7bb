"""Form: a pupil contacted a member of staff on social media (procedure A)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, field_validator

from core.rules import YEAR_GROUPS
from forms.incident import BASE_MESSAGES, IncidentForm


class PupilContactForm(IncidentForm):
    pupil_name: str = Field(min_length=2, max_length=200)
    pupil_year_group: str
    pupil_reference: str = Field(default="", max_length=40)
    pupil_account: str = Field(default="", max_length=300)
    contact_continued: Literal["yes", "no"]

    messages: ClassVar[dict[str, str]] = {
        **BASE_MESSAGES,
        "platform": "Choose the platform the pupil used.",
        "platform_unnamed": "Name the platform the pupil used.",
        "occurred_at": "Enter when the contact happened.",
        "pupil_name": "Enter the pupil's name as it appears in the school's records.",
        "pupil_year_group": "Choose the pupil's year group.",
        "pupil_reference": "The admission number or UPN can be at most 40 characters.",
        "pupil_account": "The account name or link can be at most 300 characters.",
        "contact_continued": "Say whether the pupil has kept contacting you.",
    }

    @field_validator("pupil_year_group")
    @classmethod
    def _year_group(cls, value: str) -> str:
        if value not in YEAR_GROUPS:
            raise ValueError("Choose the pupil's year group.")
        return value

    def details(self) -> dict[str, Any]:
        return {**super().details(), "contact_continued": self.contact_continued == "yes"}
