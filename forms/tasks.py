"""Forms for steps a person completes: task outcomes and decisions.

Over 400 lines on purpose: every step's form is here, side by side with the table that maps
step keys to them, so a new step's form is written next to the ones it resembles.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from pydantic import Field, ValidationInfo, field_validator

from core.enums import Decision, StepKey
from core.rules import meeting_successful
from core.wording import clean
from forms.common import CaseForm

YesNo = Literal["yes", "no"]


class StepForm(CaseForm):
    """A form whose answers become the step's recorded outcome."""

    def summary(self) -> str:
        return ""


class PersistenceForm(StepForm):
    """Procedure A: did the pupil persist, and were they reminded of the policy?"""

    pupil_persisted: YesNo
    reminder_given: YesNo = Field(default="no", validate_default=True)
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
    """The outcome of the school's usual mediation or discipline with a pupil."""

    outcome: Literal["no_action", "mediation", "sanction", "other"]
    notes: str = Field(min_length=5, max_length=2000)

    messages: ClassVar[dict[str, str]] = {
        "outcome": "Choose the outcome.",
        "notes": "Describe what was done, in 5 to 2,000 characters.",
    }

    def summary(self) -> str:
        return f"{DISCIPLINE_OUTCOMES[self.outcome]}. {self.notes}"


class ReferralForm(StepForm):
    """Sexual images of a child: who it was referred to and their reference."""

    referred_to: Literal["police", "ceop", "both"]
    reference: str = Field(min_length=2, max_length=100)
    notes: str = Field(default="", max_length=2000)

    messages: ClassVar[dict[str, str]] = {
        "referred_to": "Say who the case was referred to.",
        "reference": "Enter the reference you were given (2 to 100 characters).",
        "notes": "Keep the notes to 2,000 characters.",
    }

    def summary(self) -> str:
        where = {"police": "the police", "ceop": "CEOP", "both": "the police and CEOP"}
        return f"Referred to {where[self.referred_to]}, reference {self.reference}."


class PlatformReportForm(StepForm):
    platform_reference: str = Field(min_length=1, max_length=200)
    notes: str = Field(default="", max_length=2000)

    messages: ClassVar[dict[str, str]] = {
        "platform_reference": "Enter the reference the platform gave, or 'none given'.",
        "notes": "Keep the notes to 2,000 characters.",
    }

    def summary(self) -> str:
        return f"Reported to the platform; its reference: {self.platform_reference}."


PLATFORM_RESPONSES = {
    "removed": "The platform removed the material",
    "refused": "The platform refused to remove it",
    "other": "Another answer (described in the notes)",
}


class PlatformResponseForm(StepForm):
    response: Literal["removed", "refused", "other"]
    notes: str = Field(default="", max_length=2000)

    messages: ClassVar[dict[str, str]] = {"response": "Choose the platform's response."}

    def summary(self) -> str:
        return f"{PLATFORM_RESPONSES[self.response]}." + (f" {self.notes}" if self.notes else "")


class HelplineForm(StepForm):
    escalate: YesNo
    notes: str = Field(min_length=5, max_length=2000)

    messages: ClassVar[dict[str, str]] = {
        "escalate": "Say whether you are escalating to the helpline.",
        "notes": "Say why, in 5 to 2,000 characters.",
    }

    def summary(self) -> str:
        verb = "Escalated to" if self.escalate == "yes" else "Decided not to escalate to"
        return f"{verb} the Professionals Online Safety Helpline: {self.notes}"


class HrAdviceForm(StepForm):
    advice: str = Field(min_length=10, max_length=4000)
    adviser: str = Field(default="", max_length=200)

    messages: ClassVar[dict[str, str]] = {
        "advice": "Record HR's advice in 10 to 4,000 characters.",
        "adviser": "Keep the adviser's name to 200 characters.",
    }

    def summary(self) -> str:
        who = f" ({self.adviser})" if self.adviser else ""
        return f"HR's advice{who}: {self.advice}"


class MeetingForm(StepForm):
    held: YesNo
    concerns_heard: YesNo = "no"
    asked_to_remove: YesNo = "no"
    agreed: Literal["yes", "no", ""] = Field(default="", validate_default=True)
    notes: str = Field(min_length=5, max_length=4000)

    messages: ClassVar[dict[str, str]] = {
        "held": "Say whether the meeting took place.",
        "agreed": "Say whether they agreed to remove the material.",
        "notes": "Describe the meeting (or why it did not happen) in 5 to 4,000 characters.",
    }

    @field_validator("agreed")
    @classmethod
    def _agreed_if_held(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("held") == "yes" and not value:
            raise ValueError("Say whether they agreed to remove the material.")
        return value or "no"

    @property
    def successful(self) -> bool:
        return meeting_successful(self.held, self.agreed)

    def summary(self) -> str:
        if self.held == "no":
            return f"The meeting did not take place. {self.notes}"
        agreed = (
            "agreed to remove the material"
            if self.agreed == "yes"
            else "did not agree to remove the material"
        )
        return f"Meeting held; they {agreed}. {self.notes}"


class PoliceReferenceForm(StepForm):
    police_reference: str = Field(min_length=2, max_length=100)
    notes: str = Field(default="", max_length=2000)

    messages: ClassVar[dict[str, str]] = {
        "police_reference": "Enter the police reference (crime or incident number)."
    }

    def summary(self) -> str:
        return f"Referral pack sent to the police; their reference: {self.police_reference}."


RESOLUTIONS = {
    "resolved": "Resolved",
    "partly_resolved": "Partly resolved",
    "unresolved": "Not resolved",
}


class ResolutionForm(StepForm):
    resolution: Literal["resolved", "partly_resolved", "unresolved"]
    reason: str = Field(min_length=5, max_length=2000)

    messages: ClassVar[dict[str, str]] = {
        "resolution": "Choose how the case ended.",
        "reason": "Give the reason in 5 to 2,000 characters.",
    }

    def summary(self) -> str:
        return f"{RESOLUTIONS[self.resolution]}: {self.reason}"


class InvestigationForm(StepForm):
    findings: str = Field(min_length=10, max_length=8000)
    breach_found: Literal["yes", "no", "unclear"]
    child_may_be_at_risk: YesNo

    messages: ClassVar[dict[str, str]] = {
        "findings": "Record the findings in 10 to 8,000 characters.",
        "breach_found": "Say whether the policy was breached.",
        "child_may_be_at_risk": "Say whether any child may be at risk.",
    }

    def summary(self) -> str:
        found = {"yes": "Breach found", "no": "No breach found", "unclear": "Unclear"}
        return f"{found[self.breach_found]}. {self.findings}"


class SafeguardingReviewForm(StepForm):
    actions: str = Field(min_length=10, max_length=4000)
    referred_externally: YesNo

    messages: ClassVar[dict[str, str]] = {
        "actions": "Record what was done to protect children, in 10 to 4,000 characters.",
        "referred_externally": "Say whether the case was referred outside the school.",
    }

    def summary(self) -> str:
        outside = " Referred outside the school." if self.referred_externally == "yes" else ""
        return f"{self.actions}{outside}"


TASK_FORMS: dict[StepKey, type[StepForm]] = {
    StepKey.RECORD_PERSISTENCE: PersistenceForm,
    StepKey.RECORD_DISCIPLINE: DisciplineForm,
    StepKey.POLICE_CEOP_REFERRAL: ReferralForm,
    StepKey.REPORT_TO_PLATFORM: PlatformReportForm,
    StepKey.PLATFORM_RESPONSE: PlatformResponseForm,
    StepKey.HELPLINE_ESCALATION: HelplineForm,
    StepKey.RECORD_HR_ADVICE: HrAdviceForm,
    StepKey.RECORD_MEETING: MeetingForm,
    StepKey.POLICE_REFERRAL: PoliceReferenceForm,
    StepKey.RECORD_RESOLUTION: ResolutionForm,
    StepKey.INVESTIGATE: InvestigationForm,
    StepKey.SAFEGUARDING_REVIEW: SafeguardingReviewForm,
}


@dataclass(frozen=True)
class DecisionSpec:
    """The options of a decision step, and which of them need a written reason."""

    options: tuple[tuple[Decision, str], ...]
    reason_required: frozenset[Decision]

    def label(self, value: str) -> str:
        """How the option reads on the page and in the case's record."""
        return {str(option): label for option, label in self.options}.get(value, value)


# For most decisions, whichever option is chosen needs a written reason.
EVERY = frozenset(Decision) - {Decision.COMPLETED, Decision.NO_RESPONSE}
DECISIONS: dict[StepKey, DecisionSpec] = {
    StepKey.APPROVE_PARENT_LETTER: DecisionSpec(
        (
            (Decision.APPROVED, "Approve: send this letter to every parent"),
            (Decision.REJECTED, "Reject: do not send it"),
        ),
        frozenset({Decision.REJECTED}),
    ),
    StepKey.POLICE_DECISION: DecisionSpec(
        (
            (Decision.REFER, "Refer to the police"),
            (Decision.NOT_REFER, "Do not refer to the police"),
        ),
        EVERY,
    ),
    StepKey.NEXT_ACTION: DecisionSpec(
        (
            (Decision.POLICE, "Refer to the police"),
            (Decision.LEGAL_ADVICE, "Take legal advice"),
            (Decision.NO_FURTHER_ACTION, "No further action"),
        ),
        EVERY,
    ),
    StepKey.STAFF_OUTCOME: DecisionSpec(
        (
            (Decision.NO_ACTION, "No action"),
            (Decision.ADVICE, "Advice or guidance to the member of staff"),
            (Decision.FORMAL_PROCESS, "Start the formal disciplinary process"),
        ),
        EVERY,
    ),
}


class DecisionForm(StepForm):
    """A choice among a step's options, with the reason the step requires."""

    decision: str
    reason: str = Field(default="", max_length=2000, validate_default=True)

    spec: ClassVar[DecisionSpec] = DECISIONS[StepKey.APPROVE_PARENT_LETTER]
    messages: ClassVar[dict[str, str]] = {
        "decision": "Choose one of the options.",
        "reason": "Keep the reason to 2,000 characters.",
    }

    @field_validator("decision")
    @classmethod
    def _an_option(cls, value: str) -> str:
        if value not in dict(cls.spec.options):
            raise ValueError("Choose one of the options.")
        return value

    @field_validator("reason")
    @classmethod
    def _reason_given(cls, value: str, info: ValidationInfo) -> str:
        if info.data.get("decision") in cls.spec.reason_required and len(value) < 3:
            raise ValueError("Give a reason: it is recorded on the case with your decision.")
        return value

    def summary(self) -> str:
        label = self.spec.label(self.decision)
        return f"{label}." + (f" Reason: {self.reason}" if self.reason else "")


WORDING_MOST = 8000  # characters; the usual letters are about 2,000


class LetterDecisionForm(DecisionForm):
    """The letter to parents: approve or reject, perhaps with the approver's own wording.

    `wording` is left out of the stored answers: `services.letter_edit` keeps an edit
    (both versions) only when it differs from the letter as written.
    """

    wording: str | None = Field(default=None, exclude=True)

    messages: ClassVar[dict[str, str]] = {
        **DecisionForm.messages,
        "wording": "Check the letter's wording.",
    }

    @field_validator("wording")
    @classmethod
    def _wording_to_send(cls, value: str | None, info: ValidationInfo) -> str | None:
        # Only approving sends the wording, so only approving needs it to be sendable.
        if value is None or info.data.get("decision") != Decision.APPROVED:
            return value
        if not clean(value):
            raise ValueError(
                "The letter's wording is empty. Write the letter, or choose to reject it."
            )
        if len(value) > WORDING_MOST:
            raise ValueError(
                f"The letter's wording is {len(value):,} characters long. Keep it to "
                f"{WORDING_MOST:,} characters: a letter that long is rarely read."
            )
        return value


def _decision_form(key: StepKey, spec: DecisionSpec) -> type[DecisionForm]:
    namespace: dict[str, Any] = {
        "spec": spec,
        "__annotations__": {"spec": ClassVar[DecisionSpec]},
        "__module__": __name__,
    }
    base = LetterDecisionForm if key == StepKey.APPROVE_PARENT_LETTER else DecisionForm
    return type(f"DecisionForm_{key}", (base,), namespace)


DECISION_FORMS: dict[StepKey, type[DecisionForm]] = {
    key: _decision_form(key, spec) for key, spec in DECISIONS.items()
}
ApprovalForm = DECISION_FORMS[StepKey.APPROVE_PARENT_LETTER]


def form_for_step(step_key: str) -> type[StepForm]:
    """The form a person fills in for this step."""
    key = StepKey(step_key)
    if key in DECISION_FORMS:
        return DECISION_FORMS[key]
    return TASK_FORMS[key]


def reply_options(step_key: str) -> tuple[Decision, Decision] | None:
    """The (approve, reject) options of a step that a one-line email reply can answer.

    Only a decision whose whole answer is "approve" (no reason needed) or "reject" with a
    reason qualifies: a step that needs more (a reason for every option, other fields it
    cannot do without) is answered on its page. Optional extras (the letter's own wording)
    keep what the page would give them when left alone.
    """
    key = next((key for key in DECISIONS if key == step_key), None)
    if key is None:
        return None
    fields = DECISION_FORMS[key].model_fields
    needed = {"decision", "reason"} | {n for n, f in fields.items() if f.is_required()}
    if needed != {"decision", "reason"} or not needed <= set(fields):
        return None
    spec = DECISIONS[key]
    options = {option for option, _ in spec.options}
    if {Decision.APPROVED, Decision.REJECTED} <= options and (
        Decision.APPROVED not in spec.reason_required
    ):
        return Decision.APPROVED, Decision.REJECTED
    return None
