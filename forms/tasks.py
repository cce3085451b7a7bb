"""Forms for steps a person completes: task outcomes and approval decisions."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, ValidationInfo, field_validator

from forms.common import CaseForm


class StepForm(CaseForm):
    """A form whose answers become the step's recorded outcome."""

    def summary(self) -> str:
        return ""


class PersistenceForm(StepForm):
    """Procedure A, step 2: did the pupil persist, and were they reminded of the policy?"""

    pupil_persisted: Literal["yes", "no"]
    reminder_given: Literal["yes", "no"] = Field(default="no", validate_default=True)
    notes: str = Field(default="", max_length=2000)

    messages: ClassVar[dict[str, str]] = {
        "pupil_persisted": "Say whether the pupil kept trying to make contact.",
        "reminder_given": "Say whether the pupil was reminded of the policy.",
        "notes": "Keep the notes to 2,000 characters.",
    }

    @field_validator("reminder_given")
    @classmethod
    def _reminded_if_persisted(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("pupil_persisted") == "yes" and value != "yes":
            raise ValueError(
                "The pupil persisted, so remind them of the school's social media "
                "policy before you record this step."
            )
        return value

    def summary(self) -> str:
        persisted = (
            "The pupil persisted" if self.pupil_persisted == "yes" else "The pupil did not persist"
        )
        reminded = (
            "and was reminded of the policy"
            if self.reminder_given == "yes"
            else "; no policy reminder was needed"
        )
        return f"{persisted} {reminded}." + (f" Notes: {self.notes}" if self.notes else "")


DISCIPLINE_OUTCOMES = {
    "no_action": "No further action needed",
    "mediation": "Resolved through mediation / a restorative conversation",
    "sanction": "Sanction under the behaviour policy",
    "other": "Other outcome (described in the notes)",
}


class DisciplineForm(StepForm):
    """Procedure A, step 3: the outcome of the school's usual mediation or discipline."""

    outcome: Literal["no_action", "mediation", "sanction", "other"]
    notes: str = Field(min_length=5, max_length=2000)

    messages: ClassVar[dict[str, str]] = {
        "outcome": "Choose the outcome.",
        "notes": "Describe what was done, in 5 to 2,000 characters.",
    }

    def summary(self) -> str:
        return f"{DISCIPLINE_OUTCOMES[self.outcome]}. {self.notes}"


class ApprovalForm(StepForm):
    decision: Literal["approved", "rejected"]
    reason: str = Field(default="", max_length=2000, validate_default=True)

    messages: ClassVar[dict[str, str]] = {
        "decision": "Choose whether to approve or reject.",
        "reason": "Keep the reason to 2,000 characters.",
    }

    @field_validator("reason")
    @classmethod
    def _reason_to_reject(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("decision") == "rejected" and len(value) < 3:
            raise ValueError("Give a reason for rejecting, so the case records why.")
        return value

    def summary(self) -> str:
        verb = "Approved" if self.decision == "approved" else "Rejected"
        return f"{verb}." + (f" Reason: {self.reason}" if self.reason else "")


TASK_FORMS: dict[str, type[StepForm]] = {
    "record_persistence": PersistenceForm,
    "record_discipline": DisciplineForm,
}
