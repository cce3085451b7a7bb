"""Each incident type's procedure as data: the ordered steps a case shows and a flow runs.

Kept free of Prefect so the web app can lay out a case's steps at intake.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from core.enums import IncidentType, Role


class StepKind(StrEnum):
    SYSTEM = "system"  # Casework does it
    TASK = "task"  # a person records an outcome
    APPROVAL = "approval"  # a person approves or rejects


@dataclass(frozen=True)
class StepSpec:
    key: str
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
        for spec in self.steps:
            if spec.key == key:
                return spec
        raise KeyError(f"{self.incident_type.value} has no step {key!r}")


def opening(advice_title: str) -> tuple[StepSpec, ...]:
    """The steps every procedure starts with: tell, protect children first, seal, advise."""
    return (
        StepSpec("notify_headteacher", "Tell the headteacher a case is open", StepKind.SYSTEM),
        StepSpec(
            "alert_dsl",
            "Alert the designated safeguarding lead (sexual images of a child)",
            StepKind.SYSTEM,
        ),
        StepSpec(
            "police_ceop_referral",
            "Refer to the police or CEOP and record the reference",
            StepKind.TASK,
            Role.DSL,
        ),
        StepSpec("save_evidence", "Seal the evidence (SHA-256 fingerprints)", StepKind.SYSTEM),
        StepSpec("advise_staff", advice_title, StepKind.SYSTEM),
    )


LETTER_STEPS = (
    StepSpec(
        "approve_parent_letter",
        "Headteacher approves the letter to all parents",
        StepKind.APPROVAL,
        Role.HEADTEACHER,
    ),
    StepSpec("send_parent_letter", "Send the letter to every parent", StepKind.SYSTEM),
)
CLOSE = StepSpec("close_case", "Close the case", StepKind.SYSTEM)

PUPIL_CONTACT = Procedure(
    incident_type=IncidentType.PUPIL_CONTACT,
    label="A pupil contacted a member of staff on social media",
    version="A.2026-11",
    steps=(
        *opening("Send the staff member advice"),
        StepSpec(
            "record_persistence",
            "Record whether the pupil persisted and the policy reminder given",
            StepKind.TASK,
            Role.DSL,
        ),
        StepSpec(
            "record_discipline",
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
            "send_stock_response",
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
            "report_to_platform",
            "Report the material to the platform and record its reference",
            StepKind.TASK,
            Role.DSL,
        ),
        StepSpec("platform_response", "Record the platform's response", StepKind.TASK, Role.DSL),
        StepSpec(
            "helpline_escalation",
            "Decide whether to escalate to the Professionals Online Safety Helpline",
            StepKind.TASK,
            Role.DSL,
        ),
        StepSpec(
            "police_decision",
            "Headteacher decides whether to contact the police",
            StepKind.APPROVAL,
            Role.HEADTEACHER,
        ),
        StepSpec(
            "record_discipline",
            "Record the outcome of mediation or discipline (pupil)",
            StepKind.TASK,
            Role.DSL,
        ),
        StepSpec(
            "escalate_to_hr", "Escalate to HR with the case pack (staff member)", StepKind.SYSTEM
        ),
        StepSpec(
            "record_hr_advice", "Headteacher records HR's advice", StepKind.TASK, Role.HEADTEACHER
        ),
        StepSpec(
            "staff_outcome",
            "Headteacher decides the outcome for the staff member",
            StepKind.APPROVAL,
            Role.HEADTEACHER,
        ),
        StepSpec(
            "invite_to_meeting",
            "Invite the parent or adult to a meeting at school",
            StepKind.SYSTEM,
        ),
        StepSpec("record_meeting", "Record the meeting and its outcome", StepKind.TASK, Role.DSL),
        StepSpec(
            "next_action",
            "Headteacher decides further action (police, legal advice or none)",
            StepKind.APPROVAL,
            Role.HEADTEACHER,
        ),
        StepSpec(
            "police_referral",
            "Send the police referral pack and record the police reference",
            StepKind.TASK,
            Role.DSL,
        ),
        *LETTER_STEPS,
        StepSpec("record_resolution", "Record how the case was resolved", StepKind.TASK, Role.DSL),
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
            "safeguarding_review",
            "Safeguarding lead reviews the risk to children",
            StepKind.TASK,
            Role.DSL,
        ),
        StepSpec(
            "investigate", "Investigate and record the findings", StepKind.TASK, Role.HEADTEACHER
        ),
        StepSpec("escalate_to_hr", "Escalate to HR with the case pack", StepKind.SYSTEM),
        StepSpec("record_hr_advice", "Record HR's advice", StepKind.TASK, Role.HEADTEACHER),
        StepSpec(
            "staff_outcome",
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
