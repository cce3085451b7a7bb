"""Each incident type's procedure as data: the ordered steps a case shows and a flow runs.

Kept free of Prefect so the web app can lay out a case's steps at intake.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from db.models import IncidentType, Role


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


PUPIL_CONTACT = Procedure(
    incident_type=IncidentType.PUPIL_CONTACT,
    label="A pupil contacted a member of staff on social media",
    version="A.2026-11",
    steps=(
        StepSpec("notify_headteacher", "Tell the headteacher a case is open", StepKind.SYSTEM),
        StepSpec("save_evidence", "Seal the evidence (SHA-256 fingerprints)", StepKind.SYSTEM),
        StepSpec("advise_staff", "Send the staff member advice", StepKind.SYSTEM),
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
        StepSpec(
            "approve_parent_letter",
            "Headteacher approves the letter to all parents",
            StepKind.APPROVAL,
            Role.HEADTEACHER,
        ),
        StepSpec("send_parent_letter", "Send the letter to every parent", StepKind.SYSTEM),
        StepSpec("close_case", "Close the case", StepKind.SYSTEM),
    ),
)

PROCEDURES: dict[IncidentType, Procedure] = {p.incident_type: p for p in (PUPIL_CONTACT,)}


def procedure_for(incident_type: IncidentType | str) -> Procedure:
    return PROCEDURES[IncidentType(incident_type)]
