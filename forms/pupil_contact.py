"""Form: a pupil contacted a member of staff on social media (procedure A)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import Field, ValidationInfo, field_validator

from forms.common import PLATFORMS, YEAR_GROUPS, CaseForm, parse_local_time

PlatformKey = Literal[
    "facebook", "instagram", "x", "tiktok", "snapchat", "youtube", "whatsapp", "other"
]


class PupilContactForm(CaseForm):
    platform: PlatformKey
    platform_other: str = Field(default="", max_length=60, validate_default=True)
    occurred_at: datetime
    description: str = Field(min_length=10, max_length=5000)
    pupil_name: str = Field(min_length=2, max_length=200)
    pupil_year_group: str
    pupil_reference: str = Field(default="", max_length=40)
    pupil_account: str = Field(default="", max_length=300)
    contact_continued: Literal["yes", "no"]

    messages: ClassVar[dict[str, str]] = {
        "platform": "Choose the platform the pupil used.",
        "platform_other": "Name the platform in 60 characters or fewer.",
        "occurred_at": "Enter when the contact happened.",
        "description": "Describe what happened in 10 to 5,000 characters.",
        "pupil_name": "Enter the pupil's name as it appears in the school's records.",
        "pupil_year_group": "Choose the pupil's year group.",
        "pupil_reference": "The admission number or UPN can be at most 40 characters.",
        "pupil_account": "The account name or link can be at most 300 characters.",
        "contact_continued": "Say whether the pupil has kept contacting you.",
    }

    @field_validator("occurred_at", mode="before")
    @classmethod
    def _local_time(cls, value: Any) -> datetime:
        if not value:
            raise ValueError("Enter when the contact happened.")
        return value if isinstance(value, datetime) else parse_local_time(str(value))

    @field_validator("pupil_year_group")
    @classmethod
    def _year_group(cls, value: str) -> str:
        if value not in YEAR_GROUPS:
            raise ValueError("Choose the pupil's year group.")
        return value

    @field_validator("platform_other")
    @classmethod
    def _other_platform_named(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("platform") == "other" and not value:
            raise ValueError("Name the platform the pupil used.")
        return value

    @property
    def platform_label(self) -> str:
        return self.platform_other if self.platform == "other" else PLATFORMS[self.platform]

    def details(self) -> dict[str, Any]:
        """The type-specific facts kept on the case."""
        return {
            "pupil_name": self.pupil_name,
            "pupil_year_group": self.pupil_year_group,
            "pupil_reference": self.pupil_reference,
            "pupil_account": self.pupil_account,
            "contact_continued": self.contact_continued == "yes",
        }
