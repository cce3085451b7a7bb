"""`casework retention ...`: the review queue, legal holds and disposal from a terminal.

`casework.cli` registers the commands and imports this module only to run one. The same
services as the review pages, so a hold blocks disposal here as it does there, and
the person named by --by must be allowed to do it by the same policy (the headteacher or the
DSL of the case's school). Problems are printed in plain words and the command exits 1.
"""

from __future__ import annotations

import argparse
import sys

from core.retention import classes_of
from db.cases import case_by_reference
from db.models import Case, Person
from db.people import staff_by_email
from db.retention import review_queue
from db.schools import all_schools
from db.session import Session, reading, transaction
from services.retention import (
    RetentionProblem,
    dispose,
    hold,
    leftover_files,
    may_review,
    release,
    today,
)


class Refused(LookupError):
    """The case or the person given cannot be used; the message says why."""


def find_case(session: Session, ref: str) -> Case:
    """A case by its reference (CW-2026-00012) or its number."""
    case = case_by_reference(session, ref)
    if case is None:
        raise Refused(f"There is no case {ref!r} in Casework.")
    return case


def _fail(message: str) -> int:
    print(message, file=sys.stderr)
    return 1


def reviewer(session: Session, email: str, case: Case) -> Person:
    person = staff_by_email(session, email)
    if person is None:
        raise Refused(f"Nobody active signs in to Casework as {email}.")
    if not may_review(session, person, case):
        raise Refused(
            f"{person.name} may not review case {case.reference}: only its school's "
            "headteacher or designated safeguarding lead can."
        )
    return person


def cmd_due(args: argparse.Namespace) -> int:
    """List every school's cases due for review by today, oldest first."""
    on = today()
    with reading() as session:
        shown = 0
        for school in all_schools(session):
            if args.school and args.school not in (str(school.id), school.name):
                continue
            # The terminal acts for every school, as `casework audit verify` does.
            for row in review_queue(session, None, school.id, on, limit=100_000):
                case = row.case
                kinds = ",".join(
                    c.value
                    for c in classes_of(case.incident_type, case.details or {}, case.safeguarding)
                )
                held = f"HELD: {row.hold.reason}" if row.hold else "not held"
                print(f"{case.reference}\t{school.name}\t{kinds}\t{case.review_on}\t{held}")
                shown += 1
    print(f"{shown} case(s) due for review on {on:%-d %B %Y}.", file=sys.stderr)
    return 0


def cmd_dispose(args: argparse.Namespace) -> int:
    try:
        with reading() as session:
            case = find_case(session, args.case)
            person = reviewer(session, args.by, case)
            case_id, person_id, disposed = case.id, person.id, case.disposed_at is not None
        if disposed:
            left = leftover_files(case_id)
            print(f"Case {args.case} was disposed of already; {left} file(s) still to remove.")
            return 0 if left == 0 else 1
        done = dispose(case_id, person_id, args.reason)
    except (Refused, RetentionProblem) as problem:
        return _fail(str(problem))
    removed = ", ".join(f"{n} {what}" for what, n in done.counts.items())
    print(f"Case {done.reference} disposed of ({removed}); its tombstone stays.")
    if done.files_left:
        return _fail(f"{done.files_left} file(s) could not be removed: run this again.")
    return 0


def cmd_hold(args: argparse.Namespace) -> int:
    try:
        with transaction() as session:
            case = find_case(session, args.case)
            person = reviewer(session, args.by, case)
            hold(session, case.id, person, args.reason)
            print(f"Case {case.reference} is under a legal hold: it cannot be disposed of.")
    except (Refused, RetentionProblem) as problem:
        return _fail(str(problem))
    return 0


def cmd_release(args: argparse.Namespace) -> int:
    try:
        with transaction() as session:
            case = find_case(session, args.case)
            person = reviewer(session, args.by, case)
            release(session, case.id, person, args.reason)
            print(f"The legal hold on case {case.reference} is released.")
    except (Refused, RetentionProblem) as problem:
        return _fail(str(problem))
    return 0
