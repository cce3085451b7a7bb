"""Form: a member of staff is reported for breaching the social media policy (D)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from forms.incident import BASE_MESSAGES, IncidentForm


class StaffConductForm(IncidentForm):
    subject_id: int
    child_at_risk: Literal["yes", "no", "unsure"]
    concern_kind: Literal[
        "contact_with_pupils",
        "inappropriate_content",
        "confidentiality",
        "bringing_school_into_disrepute",
        "other",
    ]
    subject_account: str = Field(default="", max_length=300)

    messages: ClassVar[dict[str, str]] = {
        **BASE_MESSAGES,
        "subject_id": "Choose the member of staff the report is about.",
        "child_at_risk": "Say whether a child may be at risk.",
        "concern_kind": "Say what kind of breach this is.",
        "subject_account": "Keep the account name or link to 300 characters.",
    }

    def subject_staff_id(self) -> int | None:
        return self.subject_id

    def details(self) -> dict[str, Any]:
        # "Unsure" is treated as a possible risk: the DSL looks at it straight away.
        return {**super().details(), "child_at_risk": self.child_at_risk != "no"}


CONCERN_KINDS = {
    "contact_with_pupils": "Private contact with pupils",
    "inappropriate_content": "Inappropriate posts, photos or comments",
    "confidentiality": "Sharing confidential information about pupils or the school",
    "bringing_school_into_disrepute": "Bringing the school into disrepute",
    "other": "Something else",
}
