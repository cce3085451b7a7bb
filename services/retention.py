"""Keeping and disposing of closed cases: a later review date, legal holds, disposal.

Disposal is the one way Casework removes a case's personal content, and `dispose` is its
one door: the review queue page, `casework retention dispose` and anything scheduled later
all come through it, and it refuses a case under a legal hold, an open case, or one not yet
due. In one transaction it empties every table that holds what the case says about people
and leaves a tombstone and a `case.disposed` event; the evidence and print files' bytes, then
the evidence's cached previews, are removed once that has committed (a rollback must not
lose files the database still names).
The audit trail is never touched: its events stay, and the chain still verifies.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime

from core.access import Action, may
from core.files import evidence_files, letter_files, pack_files
from core.retention import classes_of
from db.approvals import erase_answers
from db.cases import erase_content, facts_of
from db.evidence import erase_evidence, evidence_of
from db.letters import erase_print_files
from db.models import Case, LegalHold, Person
from db.outbox import erase_case_mail
from db.packs import erase_packs, pack_file_names
from db.people import actor_of, get_person
from db.retention import (
    disposal_of,
    keep_until,
    live_hold,
    locked_case,
    place_hold,
    record_disposal,
    release_hold,
)
from db.search import remove_case
from db.session import Session, transaction
from forms.common import LONDON, reason_problem
from services.previews import erase_previews

log = logging.getLogger("casework.retention")
MOST_YEARS_AHEAD = 100


class RetentionProblem(ValueError):
    """Why a case cannot be kept longer, held, released or disposed of, in plain words;
    `field` names the form field it is about, if one."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


def today() -> date:
    """Today in the UK: review dates are days there."""
    return datetime.now(LONDON).date()


def may_review(session: Session, person: Person, case: Case) -> bool:
    """The policy: the head or DSL of the case's school, who may see the case."""
    actor = actor_of(session, person)
    return (
        case.school_id in actor.schools
        and may(actor, Action.REVIEW_RETENTION)
        and may(actor, Action.VIEW_CASE, facts_of(session, case))
    )


def _day(value: date) -> str:
    return f"{value:%-d %B %Y}"


def _hold_words(session: Session, hold: LegalHold) -> str:
    who = get_person(session, hold.placed_by_id).name
    return (
        f"it is under a legal hold placed by {who} on "
        f"{hold.placed_at.astimezone(LONDON):%-d %B %Y} ({hold.reason})"
    )


def _locked(session: Session, case_id: int) -> Case:
    case = locked_case(session, case_id)
    if case is None:
        raise RetentionProblem("There is no such case.")
    if case.disposed_at is not None:
        raise RetentionProblem(
            f"Case {case.reference} was disposed of on "
            f"{case.disposed_at.astimezone(LONDON):%-d %B %Y}: nothing of it is left to change."
        )
    return case


def _reason(reason: str) -> str:
    problem = reason_problem(reason)
    if problem:
        raise RetentionProblem(problem, "reason")
    return reason.strip()


def check_disposable(session: Session, case: Case, on: date) -> None:
    """Raise RetentionProblem unless the case may be disposed of on `on`."""
    if case.closed_at is None:
        raise RetentionProblem(
            f"Case {case.reference} is open: only a closed case can be disposed of."
        )
    hold = live_hold(session, case.id)
    if hold is not None:
        raise RetentionProblem(
            f"Case {case.reference} cannot be disposed of: {_hold_words(session, hold)}. "
            "Release the hold first if it no longer applies."
        )
    if case.review_on is None or case.review_on > on:
        when = _day(case.review_on) if case.review_on else "a date is set"
        raise RetentionProblem(
            f"Case {case.reference} is not due for review until {when}, so it cannot be "
            "disposed of yet."
        )


@dataclass(frozen=True)
class Disposed:
    """What a disposal removed, and any file that could not be removed (logged)."""

    reference: str
    counts: dict[str, int]
    files_left: int = 0


def dispose(case_id: int, person_id: int, reason: str, on: date | None = None) -> Disposed:
    """Remove the case's personal content and files, leaving its tombstone and an event."""
    why = _reason(reason)
    with transaction() as session:
        case = _locked(session, case_id)
        person = get_person(session, person_id)
        if not may_review(session, person, case):
            raise RetentionProblem(
                f"{person.name} may not dispose of case {case.reference}: only its school's "
                "headteacher or designated safeguarding lead can."
            )
        check_disposable(session, case, on or today())
        classes = ",".join(
            c.value for c in classes_of(case.incident_type, case.details or {}, case.safeguarding)
        )
        evidence = erase_evidence(session, case.id)
        prints, letters = erase_print_files(session, case.id)
        packs = erase_packs(session, case.id)
        items = evidence_of(session, case.id)
        digests = [e.sha256 for e in items]
        counts = {
            **erase_content(session, case),
            "evidence files": len(evidence),
            "evidence bytes": sum(e.size for e in items),
            "request answers": erase_answers(session, case.id),
            "emails": erase_case_mail(session, case.id),
            "print files": len(prints),
            "postal letters": letters,
            "case pack files": len(packs),
        }
        remove_case(session, case.id)
        record_disposal(session, case, person, why, classes, counts)
        reference = case.reference
    left = remove_files(evidence, prints, digests) + remove_pack_files(packs)
    return Disposed(reference, counts, left)


def remove_files(evidence: list[str], prints: list[str], digests: list[str]) -> int:
    """Remove the bytes of a disposed case's files, then the previews of its evidence (by
    SHA-256; in that order, see services/previews.keep); returns how many could not be."""
    left = 0
    for store, names in ((evidence_files(), evidence), (letter_files(), prints)):
        for name in names:
            try:
                store.erase([name])
            except OSError as exc:
                left += 1
                log.error("a disposed case's file %s could not be removed: %s", name, exc)
    for digest in digests:
        try:
            erase_previews([digest])
        except OSError as exc:
            left += 1
            log.error("a preview of a disposed case's file could not be removed: %s", exc)
    return left


def leftover_files(case_id: int) -> int:
    """Try again to remove the files of a case already disposed of; how many remain."""
    with transaction() as session:
        if disposal_of(session, case_id) is None:
            raise RetentionProblem("That case has not been disposed of.")
        items = evidence_of(session, case_id)
        evidence, digests = [e.stored_name for e in items], [e.sha256 for e in items]
        packs = pack_file_names(session, case_id)
    return remove_files(evidence, [], digests) + remove_pack_files(packs)


def remove_pack_files(names: list[str]) -> int:
    """Remove the HTML and PDF of a disposed case's packs; returns how many could not be."""
    left = 0
    store = pack_files()
    for name in names:
        try:
            store.erase([name])
        except OSError as exc:
            left += 1
            log.error("a disposed case's pack file %s could not be removed: %s", name, exc)
    return left


def hold(session: Session, case_id: int, person: Person, reason: str) -> LegalHold:
    """Place a legal hold: nothing may dispose of the case until it is released."""
    why = _reason(reason)
    case = _locked(session, case_id)
    existing = live_hold(session, case.id)
    if existing is not None:
        raise RetentionProblem(
            f"Case {case.reference} is already held: {_hold_words(session, existing)}."
        )
    return place_hold(session, case, person, why)


def release(session: Session, case_id: int, person: Person, reason: str) -> None:
    """Release the case's legal hold; it can then be disposed of once due."""
    why = _reason(reason)
    case = _locked(session, case_id)
    existing = live_hold(session, case.id)
    if existing is None:
        raise RetentionProblem(f"Case {case.reference} is not under a legal hold.")
    release_hold(session, existing, person, why)


def keep_longer(session: Session, case_id: int, person: Person, until: date, reason: str) -> None:
    """Move a closed case's review to a later date, with the reason."""
    why = _reason(reason)
    case = _locked(session, case_id)
    if case.closed_at is None or case.review_on is None:
        raise RetentionProblem(f"Case {case.reference} is open: it has no review date yet.")
    now = today()
    if until <= max(case.review_on, now):
        later = _day(max(case.review_on, now))
        raise RetentionProblem(f"Choose a date after {later}.", "until")
    if until.year > now.year + MOST_YEARS_AHEAD:
        raise RetentionProblem(f"Choose a date within {MOST_YEARS_AHEAD} years.", "until")
    keep_until(session, case, person, until, why)
