"""Cases and their steps."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.audit import record_event
from db.models import (
    Case,
    CaseStatus,
    CaseStep,
    Evidence,
    IncidentType,
    Person,
    Role,
    StepStatus,
    utcnow,
)
from flows.procedures import procedure_for


class CaseNotFound(LookupError):
    """No case with that id (or none this person may see: we do not say which)."""


@dataclass(frozen=True)
class NewCase:
    """What intake knows about an incident once its form has validated."""

    incident_type: IncidentType
    platform: str
    occurred_at: datetime
    description: str
    details: dict[str, Any]


def open_case(
    session: Session, *, school_id: int, reporter: Person, lead: Person, new: NewCase
) -> Case:
    """Insert the case, its steps in procedure order and the `case.opened` event."""
    procedure = procedure_for(new.incident_type)
    case = Case(
        school_id=school_id,
        reference="pending",
        incident_type=new.incident_type,
        status=CaseStatus.OPEN,
        reporter_id=reporter.id,
        lead_id=lead.id,
        platform=new.platform,
        occurred_at=new.occurred_at,
        description=new.description,
        details=new.details,
        procedure_version=procedure.version,
    )
    session.add(case)
    session.flush()
    case.reference = f"CW-{case.opened_at:%Y}-{case.id:05d}"
    for position, spec in enumerate(procedure.steps, start=1):
        session.add(CaseStep(case_id=case.id, key=spec.key, position=position, title=spec.title))
    session.flush()
    record_event(
        session,
        case_id=case.id,
        kind="case.opened",
        actor=reporter,
        data={
            "reference": case.reference,
            "incident_type": new.incident_type.value,
            "procedure_version": procedure.version,
            "lead": lead.name,
        },
    )
    return case


def get_case(session: Session, case_id: int) -> Case:
    case = session.get(Case, case_id)
    if case is None:
        raise CaseNotFound(case_id)
    return case


def steps_of(session: Session, case_id: int) -> list[CaseStep]:
    return list(
        session.scalars(
            select(CaseStep).where(CaseStep.case_id == case_id).order_by(CaseStep.position)
        )
    )


def get_step(session: Session, case_id: int, key: str) -> CaseStep:
    step = session.scalars(
        select(CaseStep).where(CaseStep.case_id == case_id, CaseStep.key == key)
    ).first()
    if step is None:
        raise LookupError(f"case {case_id} has no step {key!r}")
    return step


def step_is_settled(session: Session, case_id: int, key: str) -> bool:
    """True once a step is done or skipped: the flow then passes over it."""
    return get_step(session, case_id, key).status in (StepStatus.DONE, StepStatus.SKIPPED)


def finish_step(
    session: Session,
    case_id: int,
    key: str,
    *,
    outcome: str = "",
    actor: Person | None = None,
    skipped: bool = False,
    data: dict[str, Any] | None = None,
) -> CaseStep:
    """Mark a step done (or skipped) and record it in the audit trail."""
    step = get_step(session, case_id, key)
    step.status = StepStatus.SKIPPED if skipped else StepStatus.DONE
    step.outcome = outcome
    step.completed_at = utcnow()
    kind = "step.skipped" if skipped else "step.completed"
    record_event(
        session,
        case_id=case_id,
        kind=kind,
        actor=actor,
        data={"step": key, "outcome": outcome, **(data or {})},
    )
    return step


def mark_waiting(
    session: Session, case_id: int, key: str, owner: Person, due_at: datetime | None
) -> None:
    step = get_step(session, case_id, key)
    step.status, step.owner_id, step.due_at = StepStatus.WAITING, owner.id, due_at


def close_case(session: Session, case: Case, outcome: str, actor: Person | None = None) -> None:
    case.status = CaseStatus.CLOSED
    case.outcome = outcome
    case.closed_at = utcnow()
    record_event(
        session, case_id=case.id, kind="case.closed", actor=actor, data={"outcome": outcome}
    )


def evidence_of(session: Session, case_id: int) -> list[Evidence]:
    return list(
        session.scalars(select(Evidence).where(Evidence.case_id == case_id).order_by(Evidence.id))
    )


CASE_RUNNERS = (Role.HEADTEACHER, Role.DSL, Role.AUDITOR)


def can_view(person: Person, case: Case) -> bool:
    """Headteacher, DSL and auditors see every case of their school; staff see their own."""
    if person.school_id != case.school_id or person.role == Role.PARENT:
        return False
    return person.role in CASE_RUNNERS or person.id in (case.reporter_id, case.lead_id)


def visible_cases(session: Session, person: Person) -> list[Case]:
    query = select(Case).where(Case.school_id == person.school_id)
    if person.role not in CASE_RUNNERS:
        query = query.where((Case.reporter_id == person.id) | (Case.lead_id == person.id))
    return list(session.scalars(query.order_by(Case.opened_at.desc())))
