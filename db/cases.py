"""Cases and their steps."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, literal_column, select, update
from sqlalchemy.orm import Session

from core.access import Action, Actor, CaseFacts, may
from core.enums import ACCESS_KINDS, AuditKind, StepKey
from core.procedures import procedure_for
from db.audit import record_event
from db.models import (
    Approval,
    AuditEvent,
    Case,
    CaseNote,
    CaseStatus,
    CaseStep,
    IncidentType,
    Person,
    Role,
    StepStatus,
    utcnow,
)
from db.people import NobodyInRole, headteacher, holder_of
from db.retention import date_review
from db.visibility import may_clause
from db.wake import Work, wake_worker


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
    subject_id: int | None = None
    safeguarding: bool = False


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
        subject_id=new.subject_id,
        safeguarding=new.safeguarding,
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
        kind=AuditKind.CASE_OPENED,
        actor=reporter,
        data={
            "reference": case.reference,
            "incident_type": new.incident_type.value,
            "procedure_version": procedure.version,
            "lead": lead.name,
        },
    )
    wake_worker(session, Work.CASE)  # to tell its head and start its flow
    return case


def get_case(session: Session, case_id: int) -> Case:
    case = session.get(Case, case_id)
    if case is None:
        raise CaseNotFound(case_id)
    return case


def case_by_reference(session: Session, ref: str) -> Case | None:
    """A case by its reference (CW-2026-00012, any case) or its number."""
    ref = ref.strip()
    if ref.isascii() and ref.isdigit():
        return session.get(Case, int(ref)) if int(ref) < 2**31 else None
    return session.scalars(select(Case).where(Case.reference == ref.upper())).first()


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


def claim_step(session: Session, case_id: int, key: str) -> bool:
    """True if the step is still to do, and ours to do until this transaction ends.

    The step's row is locked (PostgreSQL; SQLite's writers already go one at a time), so
    should two processes ever run one case at once (a run taken for dead while it was only
    slow, and started again), the second waits for the first and then finds the step done.
    """
    step = session.scalars(
        select(CaseStep)
        .where(CaseStep.case_id == case_id, CaseStep.key == key)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()
    if step is None:
        raise LookupError(f"case {case_id} has no step {key!r}")
    return step.status not in (StepStatus.DONE, StepStatus.SKIPPED)


def step_is_done(session: Session, case_id: int, key: str) -> bool:
    """True when the case has this step and it was done (not skipped, not still to come)."""
    status = session.scalars(
        select(CaseStep.status).where(CaseStep.case_id == case_id, CaseStep.key == key)
    ).first()
    return status == StepStatus.DONE


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
    kind = AuditKind.STEP_SKIPPED if skipped else AuditKind.STEP_COMPLETED
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


def set_lead(session: Session, case: Case, lead: Person) -> None:
    case.lead_id = lead.id
    session.flush()


def close_case(session: Session, case: Case, outcome: str, actor: Person | None = None) -> None:
    case.status = CaseStatus.CLOSED
    case.outcome = outcome
    case.closed_at = utcnow()
    date_review(session, case)
    record_event(
        session, case_id=case.id, kind=AuditKind.CASE_CLOSED, actor=actor, data={"outcome": outcome}
    )


def is_headteacher(session: Session, person_id: int | None) -> bool:
    subject = session.get(Person, person_id) if person_id else None
    return subject is not None and subject.role == Role.HEADTEACHER


def acting_head_for(session: Session, school_id: int, subject_id: int | None) -> Person:
    """Who does the headteacher's part: the chair of governors when the head is the subject."""
    if is_headteacher(session, subject_id):
        chair = holder_of(session, school_id, Role.CHAIR)
        if chair is None:
            raise NobodyInRole(
                "The headteacher is the subject of this case and the school has "
                "no chair of governors in Casework to act instead."
            )
        return chair
    return headteacher(session, school_id)


def acting_head(session: Session, case: Case) -> Person:
    return acting_head_for(session, case.school_id, case.subject_id)


def facts_for(session: Session, cases: list[Case]) -> dict[int, CaseFacts]:
    """What the access policy needs to know about each case, by case id: three queries
    however many cases (the case list asks for all of a school's at once)."""
    ids = [c.id for c in cases]
    if not ids:
        return {}
    asked: dict[int, set[int]] = {case_id: set() for case_id in ids}
    approvers = select(Approval.case_id, Approval.approver_id).where(Approval.case_id.in_(ids))
    owners = select(CaseStep.case_id, CaseStep.owner_id).where(
        CaseStep.case_id.in_(ids), CaseStep.owner_id.is_not(None)
    )
    for query in (approvers, owners):
        for case_id, person_id in session.execute(query):
            if person_id is not None:
                asked[case_id].add(person_id)
    subjects = {c.subject_id for c in cases if c.subject_id is not None}
    heads = set(
        session.scalars(
            select(Person.id).where(Person.id.in_(subjects), Person.role == Role.HEADTEACHER)
        )
    )
    return {
        c.id: CaseFacts(
            school_id=c.school_id,
            reporter_id=c.reporter_id,
            lead_id=c.lead_id,
            subject_id=c.subject_id,
            subject_is_head=c.subject_id in heads,
            hr_escalated=c.hr_escalated_at is not None,
            asked=frozenset(asked[c.id]),
        )
        for c in cases
    }


def facts_of(session: Session, case: Case) -> CaseFacts:
    """What the access policy needs to know about one case."""
    return facts_for(session, [case])[case.id]


def can_view(session: Session, actor: Actor, case: Case) -> bool:
    """The access policy's answer: may this person see this case at all?"""
    return may(actor, Action.VIEW_CASE, facts_of(session, case))


def visible_cases(session: Session, actor: Actor, school_id: int | None = None) -> list[Case]:
    """The cases `actor` may see, newest first: at one of their schools, or at all of them."""
    query = select(Case).where(may_clause(actor)).order_by(Case.opened_at.desc())
    if school_id is not None:
        query = query.where(Case.school_id == school_id)
    return list(session.scalars(query))


@dataclass(frozen=True)
class CaseFilter:
    """Which of a school's cases the list shows: all, or by status, type, outcome and the
    days they were opened on (UTC bounds of UK days)."""

    status: CaseStatus | None = None
    incident_type: IncidentType | None = None
    outcome: str | None = None  # a key of OUTCOMES
    opened_from: datetime | None = None
    opened_before: datetime | None = None
    first_day: str = ""  # the days as given, to show them back in the form
    last_day: str = ""


# What a case came to, as the case list filters by it: a referral made, or a letter sent.
OUTCOMES = {
    "police": "Referred to the police",
    "hr": "Escalated to HR",
    "letter": "Letter sent to parents",
}
POLICE_STEPS = (StepKey.POLICE_CEOP_REFERRAL, StepKey.POLICE_REFERRAL)


def _came_to(outcome: str) -> ColumnElement[bool]:
    if outcome == "hr":
        return Case.hr_escalated_at.is_not(None)
    keys = POLICE_STEPS if outcome == "police" else (StepKey.SEND_PARENT_LETTER,)
    return (
        select(CaseStep.id)
        .where(
            CaseStep.case_id == Case.id,
            CaseStep.key.in_(keys),
            CaseStep.status == StepStatus.DONE,
        )
        .exists()
    )


def case_list_page(
    session: Session,
    actor: Actor,
    school_id: int,
    shown: CaseFilter = CaseFilter(),
    page: int = 1,
    per_page: int = 50,
) -> tuple[list[Case], bool]:
    """One page of the cases `actor` may see at the school, newest first, and whether
    there are more; filtered in the query, so a page costs the same with 100,000 cases."""
    query = select(Case).where(Case.school_id == school_id, may_clause(actor))
    if shown.status is not None:
        query = query.where(Case.status == shown.status)
    if shown.incident_type is not None:
        query = query.where(Case.incident_type == shown.incident_type)
    if shown.outcome is not None:
        query = query.where(_came_to(shown.outcome))
    if shown.opened_from is not None:
        query = query.where(Case.opened_at >= shown.opened_from)
    if shown.opened_before is not None:
        query = query.where(Case.opened_at < shown.opened_before)
    query = query.order_by(Case.opened_at.desc(), Case.id.desc())
    found = list(session.scalars(query.offset((page - 1) * per_page).limit(per_page + 1)))
    return found[:per_page], len(found) > per_page


def waiting_steps(session: Session, case_ids: list[int]) -> dict[int, list[str]]:
    """The titles of the steps each case is waiting on."""
    found: dict[int, list[str]] = {}
    if not case_ids:
        return found
    for step in session.scalars(
        select(CaseStep).where(
            CaseStep.case_id.in_(case_ids), CaseStep.status == StepStatus.WAITING
        )
    ):
        found.setdefault(step.case_id, []).append(step.title)
    return found


# --- Each case's Prefect flow run -------------------------------------------------------


def set_flow_run(session: Session, case_id: int, run_id: str) -> bool:
    """Remember the case's flow run (once) and record that it started.

    One conditional UPDATE: two starters (the hand-off loops of two workers, or one and the
    reconciler) may both create the run (Prefect's idempotency key gives them the same one)
    and both get here at once; only the first records that it started.
    """
    result = session.execute(
        update(Case)
        .where(Case.id == case_id, Case.flow_run_id.is_(None))
        .values(flow_run_id=run_id)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        return False
    case = session.get(Case, case_id)
    if case is not None:
        session.refresh(case, ["flow_run_id"])
    record_event(
        session, case_id=case_id, kind=AuditKind.FLOW_STARTED, data={"flow_run_id": run_id}
    )
    return True


# The partial index's condition (db.models.AWAITING_RUN_SQL), with the status as a literal:
# a planner that does not look at bound values (a generic PostgreSQL plan) still sees the
# query match the index and reads new cases from it rather than every case
# (tests/db/test_cases_awaiting_run.py).
AWAITING_RUN = Case.flow_run_id.is_(None) & (Case.status == literal_column("'open'"))


def open_without_run(session: Session) -> list[tuple[int, IncidentType]]:
    """Open cases whose flow run is not created yet: new ones, or Prefect was down."""
    rows = session.execute(
        select(Case.id, Case.incident_type).where(AWAITING_RUN).order_by(Case.id)
    )
    return [(case_id, kind) for case_id, kind in rows]


def unannounced(session: Session) -> list[int]:
    """Cases awaiting their run whose head has not been told of them yet."""
    return list(
        session.scalars(
            select(Case.id)
            .join(CaseStep, CaseStep.case_id == Case.id)
            .where(AWAITING_RUN, CaseStep.key == StepKey.NOTIFY_HEADTEACHER)
            .where(CaseStep.status == StepStatus.PENDING)
            .order_by(Case.id)
        )
    )


def open_runs(session: Session) -> dict[str, int]:
    """The flow run of every open case that has one, with the case id."""
    rows = session.execute(
        select(Case.flow_run_id, Case.id).where(
            Case.status == CaseStatus.OPEN, Case.flow_run_id.is_not(None)
        )
    )
    return {str(run_id): case_id for run_id, case_id in rows}


# --- Working a case off its procedure ---------------------------------------------------


def add_note(session: Session, case_id: int, author: Person, text: str) -> CaseNote:
    """Keep a note on the case; its trail keeps the note's SHA-256, not its words.

    The hash ties the note to the chain as the words themselves did, but the trail cannot
    be changed, so words in it would outlive the case's disposal (docs/DECISIONS.md).
    """
    note = CaseNote(case_id=case_id, author_id=author.id, text=text)
    session.add(note)
    session.flush()
    record_event(
        session,
        case_id=case_id,
        kind=AuditKind.NOTE_ADDED,
        actor=author,
        data={
            "note_id": note.id,
            "characters": len(text),
            "sha256": hashlib.sha256(text.encode()).hexdigest(),
        },
    )
    return note


def notes_of(session: Session, case_id: int) -> list[CaseNote]:
    """The case's notes, newest first."""
    return list(
        session.scalars(
            select(CaseNote).where(CaseNote.case_id == case_id).order_by(CaseNote.id.desc())
        )
    )


def reset_steps(session: Session, case_id: int, keys: list[str]) -> None:
    """Put steps back to be done again (their earlier outcome stays in the trail)."""
    for step in session.scalars(
        select(CaseStep).where(CaseStep.case_id == case_id, CaseStep.key.in_(keys))
    ):
        step.status, step.outcome, step.completed_at, step.due_at = (
            StepStatus.PENDING,
            "",
            None,
            None,
        )
    session.flush()


def stop_waiting(session: Session, case_id: int) -> list[str]:
    """Steps waiting for someone go back to "to do" (their requests were withdrawn)."""
    keys: list[str] = []
    for step in session.scalars(
        select(CaseStep).where(CaseStep.case_id == case_id, CaseStep.status == StepStatus.WAITING)
    ):
        keys.append(step.key)
        step.status, step.due_at = StepStatus.PENDING, None
    session.flush()
    return keys


# How a person was involved in a case, in words, for an auditor reading their history.
REPORTED, SUBJECT, LED, ASKED, NOTED, ACTED, OPENED = (
    "reported it",
    "the report is about them",
    "case lead",
    "asked to decide or record a step",
    "wrote a note",
    "did something recorded in the trail",
    "opened the case, its evidence or a pack",
)


def cases_involving(session: Session, person_id: int, actor: Actor) -> list[tuple[Case, list[str]]]:
    """Every case the person had a part in that `actor` may see, newest first, with each
    part they had: for an allegation, the whole of a member of staff's history."""
    parts: dict[int, list[str]] = {}

    def add(part: str, case_ids: Any) -> None:
        for case_id in case_ids:
            found = parts.setdefault(case_id, [])
            if part not in found:
                found.append(part)

    add(REPORTED, session.scalars(select(Case.id).where(Case.reporter_id == person_id)))
    add(SUBJECT, session.scalars(select(Case.id).where(Case.subject_id == person_id)))
    add(LED, session.scalars(select(Case.id).where(Case.lead_id == person_id)))
    add(ASKED, session.scalars(select(Approval.case_id).where(Approval.approver_id == person_id)))
    add(ASKED, session.scalars(select(CaseStep.case_id).where(CaseStep.owner_id == person_id)))
    add(NOTED, session.scalars(select(CaseNote.case_id).where(CaseNote.author_id == person_id)))
    acted = session.execute(
        select(AuditEvent.case_id, AuditEvent.kind)
        .where(AuditEvent.actor_id == person_id, AuditEvent.case_id.is_not(None))
        .distinct()
    )
    for case_id, kind in acted:
        add(OPENED if kind in ACCESS_KINDS else ACTED, [case_id])
    if not parts:
        return []
    cases = session.scalars(
        select(Case)
        .where(Case.id.in_(list(parts)), Case.school_id.in_(actor.schools), may_clause(actor))
        .order_by(Case.opened_at.desc(), Case.id.desc())
    )
    return [(case, parts[case.id]) for case in cases]


# --- Disposal ---------------------------------------------------------------------------


def erase_content(session: Session, case: Case) -> dict[str, int]:
    """Remove what the case and its steps say and its notes (disposal); the row keeps its
    reference, type, school, status, platform and dates. Returns what was removed."""
    notes = len(notes_of(session, case.id))
    session.execute(delete(CaseNote).where(CaseNote.case_id == case.id))
    outcomes = 0
    for step in steps_of(session, case.id):
        outcomes += bool(step.outcome)
        step.outcome = ""
    answers = len(case.details or {})
    case.description, case.details, case.outcome, case.subject_id = "", {}, "", None
    session.flush()
    return {"notes": notes, "step outcomes": outcomes, "answers": answers}
