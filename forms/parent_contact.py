"""Form: a parent contacted a member of staff on social media (procedure B)."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, field_validator

from core.rules import YEAR_GROUPS
from forms.incident import BASE_MESSAGES, IncidentForm

CONTACT_KINDS = {
    "friend_request": "A friend or follow request",
    "message": "A private message",
    "comment": "A comment or mention on a post",
    "other": "Something else",
}


class ParentContactForm(IncidentForm):
    parent_name: str = Field(min_length=2, max_length=200)
    child_year_group: str = ""
    contact_kind: Literal["friend_request", "message", "comment", "other"]
    responded: Literal["yes", "no"]

    messages: ClassVar[dict[str, str]] = {
        **BASE_MESSAGES,
        "parent_name": "Enter the parent's or carer's name as the school knows it.",
        "child_year_group": "Choose the child's year group, or leave it blank.",
        "contact_kind": "Say how the parent contacted you.",
        "responded": "Say whether you have replied.",
    }

    @field_validator("child_year_group")
    @classmethod
    def _year_group(cls, value: str) -> str:
        if value and value not in YEAR_GROUPS:
            raise ValueError(cls.messages["child_year_group"])
        return value
