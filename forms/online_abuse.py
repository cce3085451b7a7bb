"""Form: harassment of staff, or offensive material about staff, a pupil or the school (C)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, ValidationInfo, field_validator

from core.rules import looks_like_email
from forms.incident import BASE_MESSAGES, IncidentForm

TARGETS = {
    "me": "Me",
    "staff": "Another member of staff",
    "pupil": "A pupil",
    "school": "The school itself",
}
CONTENT_KINDS = {
    "racist": "Racist",
    "sexist": "Sexist",
    "sexual": "Sexual",
    "hate_crime": "Hate crime (hostility because of disability, religion, sexual orientation "
    "or transgender identity)",
    "threats": "Threats",
    "other": "Other offensive or upsetting content",
}
RESPONSIBLE = {
    "current_pupil": "A current pupil",
    "staff_member": "A member of staff",
    "parent": "A parent or carer",
    "other_adult": "Another adult",
    "unknown": "Not known",
}


class OnlineAbuseForm(IncidentForm):
    target: Literal["me", "staff", "pupil", "school"]
    target_name: str = Field(default="", max_length=200, validate_default=True)
    links: str = Field(min_length=3, max_length=3000)
    content_kinds: list[Literal["racist", "sexist", "sexual", "hate_crime", "threats", "other"]] = (
        Field(min_length=1)
    )
    responsible: Literal["current_pupil", "staff_member", "parent", "other_adult", "unknown"]
    responsible_name: str = Field(default="", max_length=200, validate_default=True)
    responsible_staff_id: int | None = Field(default=None, validate_default=True)
    responsible_email: str = Field(default="", max_length=320)
    still_online: Literal["yes", "no"]

    messages: ClassVar[dict[str, str]] = {
        **BASE_MESSAGES,
        "target": "Say who is targeted.",
        "target_name": "Name the person targeted (200 characters at most).",
        "links": "Give at least one link or account name, so the platform can find it.",
        "content_kinds": "Tick at least one kind of content.",
        "responsible": "Say who you think is responsible, or choose 'Not known'.",
        "responsible_name": "Keep the name to 200 characters.",
        "responsible_staff_id": "Choose the member of staff from the list.",
        "responsible_email": "Keep the email address to 320 characters.",
        "still_online": "Say whether the material is still online.",
    }
    list_fields: ClassVar[frozenset[str]] = frozenset({"content_kinds"})

    @field_validator("target_name")
    @classmethod
    def _target_named(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("target") in ("staff", "pupil") and len(value) < 2:
            raise ValueError("Name the person targeted.")
        return value

    @field_validator("responsible_name")
    @classmethod
    def _responsible_named(cls, value: str, info: ValidationInfo) -> str:
        if (
            info.data.get("responsible") in ("current_pupil", "parent", "other_adult")
            and len(value) < 2
        ):
            raise ValueError("Give the name of the person you think is responsible.")
        return value

    @field_validator("responsible_staff_id", mode="before")
    @classmethod
    def _staff_chosen(cls, value: Any, info: ValidationInfo) -> Any:
        value = value or None
        if info.data.get("responsible") == "staff_member" and value is None:
            raise ValueError("Choose the member of staff from the list.")
        return value if info.data.get("responsible") == "staff_member" else None

    @field_validator("responsible_email")
    @classmethod
    def _email_shape(cls, value: str) -> str:
        if value and not looks_like_email(value):
            raise ValueError("Enter a valid email address, or leave it blank.")
        return value

    def subject_staff_id(self) -> int | None:
        return self.responsible_staff_id

    def details(self) -> dict[str, Any]:
        return {**super().details(), "still_online": self.still_online == "yes"}
