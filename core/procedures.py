"""Each incident type's procedure as data: the ordered steps a case shows and a flow runs.

Kept free of Prefect so the web app can lay out a case's steps at intake.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from core.enums import IncidentType, Role, StepKey


class StepKind(StrEnum):
    SYSTEM = "system"  # Casework does it
    TASK = "task"  # a person records an outcome
    APPROVAL = "approval"  # a person approves or rejects


@dataclass(frozen=True)
class StepSpec:
    key: StepKey
    title: str
    kind: StepKind
    owner: Role | None = None  # who acts: the case lead's role, or the approver's


@dataclass(frozen=True)
class Procedure:
    incident_type: IncidentType
    label: str
    version: str
    steps: tuple[StepSpec, ...]

    def step(self, key: str) -> StepSpec:
        """The step with this key; KeyError if the procedure has none."""
        for spec in self.steps:
            if spec.key == key:
                return spec
        raise KeyError(f"{self.incident_type.value} has no step {key!r}")


def opening(advice_title: str) -> tuple[StepSpec, ...]:
    """The steps every procedure starts with: tell, protect children first, seal, advise."""
    return (
        StepSpec(
            StepKey.NOTIFY_HEADTEACHER, "Tell the headteacher a case is open", StepKind.SYSTEM
        ),
        StepSpec(
            StepKey.ALERT_DSL,
            "Alert the designated safeguarding lead (sexual images of a child)",
            StepKind.SYSTEM,
        ),
        StepSpec(
            StepKey.POLICE_CEOP_REFERRAL,
            "Refer to the police or CEOP and record the reference",
            StepKind.TASK,
            Role.DSL,
        ),
        StepSpec(
            StepKey.SAVE_EVIDENCE, "Seal the evidence (SHA-256 fingerprints)", StepKind.SYSTEM
        ),
        StepSpec(StepKey.ADVISE_STAFF, advice_title, StepKind.SYSTEM),
    )


LETTER_STEPS = (
    StepSpec(
        StepKey.APPROVE_PARENT_LETTER,
        "Headteacher approves the letter to all parents",
        StepKind.APPROVAL,
        Role.HEADTEACHER,
    ),
    StepSpec(StepKey.SEND_PARENT_LETTER, "Send the letter to every parent", StepKind.SYSTEM),
)
CLOSE = StepSpec(StepKey.CLOSE_CASE, "Close the case", StepKind.SYSTEM)
# Requests whose expiry is someone else's deadline (a platform's), not a link to renew: they
# are never reminded or escalated, and passing one on keeps its deadline.
DEADLINE_STEPS = (StepKey.PLATFORM_RESPONSE,)

PUPIL_CONTACT = Procedure(
    incident_type=IncidentType.PUPIL_CONTACT,
    label="A pupil contacted a member of staff on social media",
    version="A.2026-11",
    steps=(
        *opening("Send the staff member advice"),
        StepSpec(
            StepKey.RECORD_PERSISTENCE,
            "Record whether the pupil persisted and the policy reminder given",
            StepKind.TASK,
            Role.DSL,
        ),
        StepSpec(
            StepKey.RECORD_DISCIPLINE,
            "Record the outcome of mediation or discipline",
            StepKind.TASK,
            Role.DSL,
        ),
        *LETTER_STEPS,
        CLOSE,
    ),
)

PARENT_CONTACT = Procedure(
    incident_type=IncidentType.PARENT_CONTACT,
    label="A parent contacted a member of staff on social media",
    version="B.2026-11",
    steps=(
        *opening("Send the staff member advice on whether to respond"),
        StepSpec(
            StepKey.SEND_STOCK_RESPONSE,
            "Send the staff member the school's stock response",
            StepKind.SYSTEM,
        ),
        *LETTER_STEPS,
        CLOSE,
    ),
)

ONLINE_ABUSE = Procedure(
    incident_type=IncidentType.ONLINE_ABUSE,
    label="Someone is harassing staff or posting offensive material about staff, a pupil or "
    "the school",
    version="C.2026-11",
    steps=(
        *opening("Tell the person targeted not to retaliate, and to keep dated evidence"),
        StepSpec(
            StepKey.REPORT_TO_PLATFORM,
            "Report the material to the platform and record its reference",
            StepKind.TASK,
            Role.DSL,
        ),
        StepSpec(
            StepKey.PLATFORM_RESPONSE, "Record the platform's response", StepKind.TASK, Role.DSL
        ),
        StepSpec(
            StepKey.HELPLINE_ESCALATION,
            "Decide whether to escalate to the Professionals Online Safety Helpline",
            StepKind.TASK,
            Role.DSL,
        ),
        StepSpec(
            StepKey.POLICE_DECISION,
            "Headteacher decides whether to contact the police",
            StepKind.APPROVAL,
            Role.HEADTEACHER,
        ),
        StepSpec(
            StepKey.RECORD_DISCIPLINE,
            "Record the outcome of mediation or discipline (pupil)",
            StepKind.TASK,
            Role.DSL,
        ),
        StepSpec(
            StepKey.ESCALATE_TO_HR,
            "Escalate to HR with the case pack (staff member)",
            StepKind.SYSTEM,
        ),
        StepSpec(
            StepKey.RECORD_HR_ADVICE,
            "HR records its advice",
            StepKind.TASK,
            Role.HR,
        ),
        StepSpec(
            StepKey.STAFF_OUTCOME,
            "Headteacher decides the outcome for the staff member",
            StepKind.APPROVAL,
            Role.HEADTEACHER,
        ),
        StepSpec(
            StepKey.INVITE_TO_MEETING,
            "Invite the parent or adult to a meeting at school",
            StepKind.SYSTEM,
        ),
        StepSpec(
            StepKey.RECORD_MEETING, "Record the meeting and its outcome", StepKind.TASK, Role.DSL
        ),
        StepSpec(
            StepKey.NEXT_ACTION,
            "Headteacher decides further action (police, legal advice or none)",
            StepKind.APPROVAL,
            Role.HEADTEACHER,
        ),
        StepSpec(
            StepKey.POLICE_REFERRAL,
            "Send the police referral pack and record the police reference",
            StepKind.TASK,
            Role.DSL,
        ),
        *LETTER_STEPS,
        StepSpec(
            StepKey.RECORD_RESOLUTION, "Record how the case was resolved", StepKind.TASK, Role.DSL
        ),
        CLOSE,
    ),
)

STAFF_CONDUCT = Procedure(
    incident_type=IncidentType.STAFF_CONDUCT,
    label="A member of staff is reported for breaching the social media policy",
    version="D.2026-11",
    steps=(
        *opening("Confirm the report to the person who made it"),
        StepSpec(
            StepKey.SAFEGUARDING_REVIEW,
            "Safeguarding lead reviews the risk to children",
            StepKind.TASK,
            Role.DSL,
        ),
        StepSpec(
            StepKey.INVESTIGATE,
            "Investigate and record the findings",
            StepKind.TASK,
            Role.HEADTEACHER,
        ),
        StepSpec(StepKey.ESCALATE_TO_HR, "Escalate to HR with the case pack", StepKind.SYSTEM),
        StepSpec(StepKey.RECORD_HR_ADVICE, "HR records its advice", StepKind.TASK, Role.HR),
        StepSpec(
            StepKey.STAFF_OUTCOME,
            "Decide the outcome (no action, advice, formal process)",
            StepKind.APPROVAL,
            Role.HEADTEACHER,
        ),
        CLOSE,
    ),
)

PROCEDURES: dict[IncidentType, Procedure] = {
    p.incident_type: p for p in (PUPIL_CONTACT, PARENT_CONTACT, ONLINE_ABUSE, STAFF_CONDUCT)
}


def procedure_for(incident_type: IncidentType | str) -> Procedure:
    return PROCEDURES[IncidentType(incident_type)]
