"""Working a case off its procedure: notes, late evidence, corrections, withdrawal, reopening.

Nothing here deletes anything: a correction keeps the old value in the audit trail, a
withdrawal keeps every step and request, a reopening starts the procedure again from where
it stands. Prefect is told by the caller after the transaction (flows/trigger), as at intake.
"""

from __future__ import annotations

from typing import Any

from core.enums import AuditKind, StepKey
from core.files import evidence_files
from core.procedures import procedure_for
from db.approvals import supersede
from db.audit import record_event
from db.cases import get_case, reset_steps, steps_of, stop_waiting
from db.evidence import add_evidence
from db.models import Case, CaseStatus, Person, utcnow
from db.outbox import cancel_unsent
from db.people import get_person
from db.retention import date_review
from db.search import index_case
from db.session import Session, transaction
from forms.common import UploadedFile
from forms.corrections import BY_TYPE, COMMON, Change

NO_IMAGES = (
    "Files cannot be added to this case: it is about sexual images of a child, and no copy of "
    "such material may be kept. Describe anything new in a note instead."
)


class CaseNotOpen(ValueError):
    """The case is not in a state that allows this; the message says why in plain words."""


def add_late_evidence(
    case_id: int, uploader_id: int, uploads: list[UploadedFile], source: str
) -> list[int]:
    """Keep more evidence on a case, exactly as intake keeps it; returns the new ids.

    `uploads` passed `forms.common.check_evidence`. Files are written first, then recorded
    in one transaction, or removed again.
    """
    store = evidence_files()
    stored = [(upload, store.save(upload.data)) for upload in uploads]
    try:
        with transaction() as session:
            case = get_case(session, case_id)
            if case.safeguarding:
                raise CaseNotOpen(NO_IMAGES)
            uploader = get_person(session, uploader_id)
            return [
                add_evidence(
                    session,
                    case.id,
                    uploader,
                    kept,
                    filename=upload.filename,
                    content_type=upload.content_type,
                    source=source,
                ).id
                for upload, kept in stored
            ]
    except BaseException:
        store.discard(kept.stored_name for _, kept in stored)
        raise


# The correctable answers kept in the case's own columns; the rest are in its details.
CASE_COLUMNS = frozenset(field.name for field in COMMON)


def current_answers(case: Case) -> dict[str, Any]:
    """Each correctable answer of the case as stored now."""
    details = dict(case.details or {})
    return {
        **{name: getattr(case, name) for name in CASE_COLUMNS},
        **{f.name: details.get(f.name, "") for f in BY_TYPE[case.incident_type]},
    }


def correct(
    session: Session, case: Case, actor: Person, changes: list[Change], reason: str
) -> None:
    """Apply corrected answers; the trail keeps each one's before and after, and why."""
    details = dict(case.details or {})
    for change in changes:
        name = change.field.name
        if name in CASE_COLUMNS:
            setattr(case, name, change.after)
        else:
            details[name] = change.after
        record_event(
            session,
            case_id=case.id,
            kind=AuditKind.CASE_CORRECTED,
            actor=actor,
            data={
                "field": name,
                "label": change.field.label,
                "before": shown(change.before),
                "after": shown(change.after),
                "reason": reason,
            },
        )
    case.details = details  # a new dict, so the JSON column is written
    index_case(session, case)  # search and linked cases see the corrected answers
    date_review(session, case)  # a date of birth or year group may change how long it is kept


def shown(value: Any) -> str:
    """A value as the trail keeps it: text, times in ISO 8601."""
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return "" if value is None else str(value)


def withdraw(session: Session, case: Case, actor: Person, reason: str) -> None:
    """End a case reported in error: requests withdrawn (links die), unsent email stopped."""
    if case.status != CaseStatus.OPEN:
        raise CaseNotOpen("Only an open case can be withdrawn.")
    retired = supersede(session, case.id)
    stop_waiting(session, case.id)
    stopped = cancel_unsent(session, case.id)
    case.status = CaseStatus.WITHDRAWN
    case.outcome = f"Withdrawn: {reason}"
    case.closed_at = utcnow()
    date_review(session, case)
    for approval in retired:
        record_event(
            session,
            case_id=case.id,
            kind=AuditKind.REQUEST_WITHDRAWN,
            actor=actor,
            data={
                "step": approval.step_key,
                "from": get_person(session, approval.approver_id).name,
            },
        )
    record_event(
        session,
        case_id=case.id,
        kind=AuditKind.CASE_WITHDRAWN,
        actor=actor,
        data={"reason": reason, "emails_stopped": stopped},
    )


def redo_choices(session: Session, case: Case) -> list[tuple[str, str]]:
    """The steps a reopening may start again from: those done so far (key, title)."""
    return [
        (s.key, s.title)
        for s in steps_of(session, case.id)
        if s.completed_at is not None and s.key != StepKey.CLOSE_CASE
    ]


def reopen(session: Session, case: Case, actor: Person, reason: str, redo: str | None) -> None:
    """Open a closed or withdrawn case again.

    The procedure then runs from the top: steps done are passed over, so it carries on
    from the first one not done, or from `redo` and every step after it.
    """
    if case.status == CaseStatus.OPEN:
        raise CaseNotOpen("This case is already open.")
    if case.disposed_at is not None:
        raise CaseNotOpen("This case was disposed of: there is nothing left to reopen.")
    keys = [StepKey.CLOSE_CASE.value]
    if redo:
        steps = steps_of(session, case.id)
        chosen = next((s for s in steps if s.key == redo and s.completed_at is not None), None)
        if chosen is None:
            raise CaseNotOpen("Choose a step that has been done, or none.")
        keys = [s.key for s in steps if s.position >= chosen.position]
        supersede(session, case.id, keys)
    reset_steps(session, case.id, keys)
    was = case.status
    case.status, case.outcome, case.closed_at = CaseStatus.OPEN, "", None
    date_review(session, case)  # open again: no review date until it closes
    procedure = procedure_for(case.incident_type)
    record_event(
        session,
        case_id=case.id,
        kind=AuditKind.CASE_REOPENED,
        actor=actor,
        data={
            "reason": reason,
            "was": was.value,
            "redo": procedure.step(redo).title if redo else "",
        },
    )
