"""Subject access: every case of a school that holds something about one person, and how.

A read model across the case aggregates (like db/visibility.py): it only reads. A person
Casework knows is found by the rows that point at them; anyone else (a pupil, a parent not
in the directory) by their name in the report's answers and in the case's words. A name is
compared whole-word and case-blind, so "Jo Evans" is found in "told Jo Evans's mother".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.models import (
    Approval,
    AuditEvent,
    Case,
    CaseNote,
    CaseStep,
    Evidence,
    OutboxMessage,
    Person,
    PostalLetter,
)

# The report's answers that name someone, and how the export says so.
NAMED_AS = {
    "pupil_name": "named as the pupil",
    "parent_name": "named as the parent or carer",
    "target_name": "named as the person targeted",
    "responsible_name": "named as the person responsible",
}
BATCH = 500


def name_pattern(name: str) -> re.Pattern[str] | None:
    """The name as a whole-word, case-blind pattern; None for a name too short to search."""
    words = name.split()
    if not words or len(" ".join(words)) < 3:
        return None
    return re.compile(r"(?<!\w)" + r"\s+".join(map(re.escape, words)) + r"(?!\w)", re.IGNORECASE)


def mentions(pattern: re.Pattern[str] | None, *texts: str) -> bool:
    return pattern is not None and any(pattern.search(t or "") for t in texts)


def _add(found: dict[int, set[str]], rows: Iterable[tuple[int, str]]) -> None:
    for case_id, how in rows:
        found.setdefault(case_id, set()).add(how)


def person_by_email(session: Session, school_id: int, email: str) -> Person | None:
    """The school's person (a parent too) with this address (the first, if a parent is
    also on the staff list)."""
    return session.scalars(
        select(Person)
        .where(Person.school_id == school_id, func.lower(Person.email) == email.strip().lower())
        .order_by(Person.id)
    ).first()


def cases_of_person(session: Session, school_id: int, person: Person) -> dict[int, set[str]]:
    """The school's cases whose rows point at `person`, with how (reported it, ...)."""
    found: dict[int, set[str]] = {}
    at_school = select(Case.id).where(Case.school_id == school_id)
    for column, how in (
        (Case.reporter_id, "reported it"),
        (Case.lead_id, "led it"),
        (Case.subject_id, "the member of staff it is about"),
    ):
        ids = session.scalars(at_school.where(column == person.id))
        _add(found, ((i, how) for i in ids))
    for column, case_column, how in (
        (Approval.approver_id, Approval.case_id, "asked to decide or record a step"),
        (CaseStep.owner_id, CaseStep.case_id, "asked to decide or record a step"),
        (CaseNote.author_id, CaseNote.case_id, "wrote a note"),
        (Evidence.uploaded_by_id, Evidence.case_id, "added evidence"),
        (PostalLetter.person_id, PostalLetter.case_id, "sent a letter by post"),
    ):
        ids = session.scalars(
            select(case_column).where(column == person.id, case_column.in_(at_school)).distinct()
        )
        _add(found, ((i, how) for i in ids))
    if person.email:
        ids = session.scalars(
            select(OutboxMessage.case_id)
            .where(OutboxMessage.to_addr == person.email, OutboxMessage.case_id.in_(at_school))
            .distinct()
        )
        _add(found, ((i, "sent an email about it") for i in ids if i is not None))
    return found


def cases_naming(
    session: Session, school_id: int, name: str, email: str = ""
) -> dict[int, set[str]]:
    """The school's cases whose answers or words name `name` (or give `email`), with how.

    Read a batch of cases at a time: a subject access request is rare, and a name can be
    anywhere in the free text, where no index can find it for both databases.
    """
    pattern = name_pattern(name)
    found: dict[int, set[str]] = {}
    last = 0
    while True:
        cases = list(
            session.scalars(
                select(Case)
                .where(Case.school_id == school_id, Case.id > last, Case.disposed_at.is_(None))
                .order_by(Case.id)
                .limit(BATCH)
            )
        )
        if not cases:
            break
        last = cases[-1].id
        for case in cases:
            details = case.details or {}
            for key, how in NAMED_AS.items():
                value = str(details.get(key) or "")
                if pattern is not None and value and pattern.fullmatch(value.strip()):
                    _add(found, [(case.id, how)])
            if email and str(details.get("responsible_email") or "").lower() == email.lower():
                _add(found, [(case.id, "named as the person responsible")])
            if mentions(pattern, case.description, case.outcome, *map(str, details.values())):
                _add(found, [(case.id, "mentioned in the report")])
        _add(found, _mentioned_in_notes_and_steps(session, [c.id for c in cases], pattern))
    return found


def _mentioned_in_notes_and_steps(
    session: Session, case_ids: list[int], pattern: re.Pattern[str] | None
) -> list[tuple[int, str]]:
    if pattern is None or not case_ids:
        return []
    hits: list[tuple[int, str]] = []
    for case_id, text in session.execute(
        select(CaseNote.case_id, CaseNote.text).where(CaseNote.case_id.in_(case_ids))
    ):
        if pattern.search(text):
            hits.append((case_id, "mentioned in a note"))
    for case_id, outcome in session.execute(
        select(CaseStep.case_id, CaseStep.outcome).where(
            CaseStep.case_id.in_(case_ids), CaseStep.outcome != ""
        )
    ):
        if pattern.search(outcome):
            hits.append((case_id, "mentioned in a step's outcome"))
    return hits


@dataclass
class CaseRecord:
    """All a case holds, as a subject access export reads it."""

    case: Case
    names: dict[int, str]  # everyone the case's rows point at, by id
    steps: list[CaseStep]
    notes: list[CaseNote]
    approvals: list[Approval]
    evidence: list[Evidence]
    emailed: list[OutboxMessage] = field(default_factory=list)


def case_record(session: Session, case: Case) -> CaseRecord:
    steps = list(
        session.scalars(
            select(CaseStep).where(CaseStep.case_id == case.id).order_by(CaseStep.position)
        )
    )
    notes = list(
        session.scalars(select(CaseNote).where(CaseNote.case_id == case.id).order_by(CaseNote.id))
    )
    approvals = list(
        session.scalars(select(Approval).where(Approval.case_id == case.id).order_by(Approval.id))
    )
    evidence = list(
        session.scalars(select(Evidence).where(Evidence.case_id == case.id).order_by(Evidence.id))
    )
    ids = {case.reporter_id, case.lead_id, case.subject_id}
    ids |= {s.owner_id for s in steps} | {n.author_id for n in notes}
    ids |= {a.approver_id for a in approvals} | {e.uploaded_by_id for e in evidence}
    wanted = {i for i in ids if i is not None}
    names = {
        person_id: name
        for person_id, name in session.execute(
            select(Person.id, Person.name).where(Person.id.in_(wanted))
        )
    }
    return CaseRecord(case, names, steps, notes, approvals, evidence)


def cases_by_id(session: Session, case_ids: Iterable[int]) -> list[Case]:
    ids = sorted(set(case_ids))
    return (
        list(session.scalars(select(Case).where(Case.id.in_(ids)).order_by(Case.opened_at)))
        if ids
        else []
    )


def activity_of(session: Session, person_id: int, limit: int = 5000) -> list[AuditEvent]:
    """What the trail records the person doing, oldest first (at most `limit` events)."""
    return list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.actor_id == person_id)
            .order_by(AuditEvent.seq)
            .limit(limit)
        )
    )


def emails_to(session: Session, person: Person, limit: int = 1000) -> list[OutboxMessage]:
    """Emails Casework sent or queued to the person's address, oldest first."""
    if not person.email:
        return []
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.to_addr == person.email)
            .order_by(OutboxMessage.id)
            .limit(limit)
        )
    )
