"""What every incident form asks: where, when, what, and the safeguarding question."""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import Field, ValidationInfo, field_validator

from core.rules import PLATFORMS, PlatformKey
from forms.common import CaseForm, DateParts, parse_date_parts, parse_local_time

BASE_MESSAGES: dict[str, str] = {
    "platform": "Choose the platform where it happened.",
    "platform_other": "Name the platform in 60 characters or fewer.",
    "occurred_at": "Enter when it happened.",
    "description": "Describe what happened in 10 to 5,000 characters.",
    "sexual_images": "Say whether the material includes sexual images of a child.",
    "image_description": "Keep the description to 3,000 characters.",
}


class IncidentForm(CaseForm):
    """Fields shared by every incident type; each type's form adds its own."""

    platform: PlatformKey
    platform_other: str = Field(default="", max_length=60, validate_default=True)
    occurred_at: datetime
    description: str = Field(min_length=10, max_length=5000)
    sexual_images: Literal["yes", "no"]
    image_description: str = Field(default="", max_length=3000, validate_default=True)

    messages: ClassVar[dict[str, str]] = BASE_MESSAGES
    list_fields: ClassVar[frozenset[str]] = frozenset()

    @field_validator("platform_other")
    @classmethod
    def _other_platform_named(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("platform") == "other" and not value:
            raise ValueError(cls.messages.get("platform_unnamed", "Name the platform."))
        return value

    @field_validator("occurred_at", mode="before")
    @classmethod
    def _local_time(cls, value: Any) -> datetime:
        if not value or (isinstance(value, DateParts) and value.empty):
            raise ValueError(cls.messages["occurred_at"])
        if isinstance(value, DateParts):
            return parse_date_parts(value)
        return value if isinstance(value, datetime) else parse_local_time(str(value))

    @field_validator("image_description")
    @classmethod
    def _images_described(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("sexual_images") == "yes" and len(value) < 10:
            raise ValueError(
                "Describe what the images show and where they are, in words. "
                "Do not open, copy or attach them."
            )
        return value

    @property
    def platform_label(self) -> str:
        return self.platform_other if self.platform == "other" else PLATFORMS[self.platform]

    @property
    def safeguarding(self) -> bool:
        """Sexual images of a child: the case goes to the DSL and the police first."""
        return self.sexual_images == "yes"

    def subject_staff_id(self) -> int | None:
        """The member of staff the case is about, if the form names one."""
        return None

    def details(self) -> dict[str, Any]:
        """The type-specific facts kept on the case."""
        own = self.model_dump(exclude=set(IncidentForm.model_fields))
        own["platform_key"] = self.platform
        if self.safeguarding:
            own["image_description"] = self.image_description
        return own
