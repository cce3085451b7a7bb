"""A case's first notice and its close."""

from __future__ import annotations

from dataclasses import dataclass

from core.enums import AuditKind, EmailKind, StepKey
from core.procedures import procedure_for
from core.templating import RenderedEmail
from db.audit import data_of
from db.cases import acting_head, claim_step, close_case, finish_step, get_case
from db.linked import earlier_linked_count, named_before
from db.models import Case, CaseStatus, Person
from db.outbox import dedup_key, queue_email
from db.people import actor_of, get_person
from db.session import Session, reading, transaction
from services.notices import email_about_case, render_about_case


def announce(case_id: int) -> bool:
    """Tell the head (and lead) of a new case, in a transaction of its own, unless that is
    done; returns whether it was done now. The worker's hand-off calls it moments after
    intake, so the report's request does not render and queue these emails itself."""
    return announce_many([case_id]) == [case_id]


def announce_many(case_ids: list[int]) -> list[int]:
    """`announce` for several new cases at once; returns those told now.

    The emails are rendered first, in a read that takes no lock: on SQLite every report's
    request waits for the one write lock, and under a burst the worker used to hold it while
    it rendered each case's emails. One write then claims each case's step and queues its
    emails: after a burst of reports that is one wait for the lock and one commit for all of
    them, not one each (each was three times the write itself while the reports came in).
    """
    with reading() as session:
        rendered: list[tuple[int, list[Notice]]] = []
        for case_id in case_ids:
            case = get_case(session, case_id)
            if case.status == CaseStatus.OPEN:
                reporter = get_person(session, case.reporter_id)
                rendered.append((case_id, new_case_notices(session, case, reporter)))
    if not rendered:
        return []
    told = []
    with transaction() as session:
        for case_id, notices in rendered:
            case = get_case(session, case_id)
            if case.status != CaseStatus.OPEN:
                continue
            if not claim_step(session, case_id, StepKey.NOTIFY_HEADTEACHER):
                continue
            queue_notices(session, case, notices)
            told.append(case_id)
    return told


@dataclass(frozen=True)
class Notice:
    """One 'new case' email, rendered and waiting to be queued."""

    person: Person
    dedup_key: str
    email: RenderedEmail


def notify_headteacher(session: Session, case: Case, reporter: Person) -> None:
    """Queue the content-free 'new case' email to whoever acts as head, and to the case lead
    (the DSL) when that is someone else; then settle the step."""
    queue_notices(session, case, new_case_notices(session, case, reporter))


def new_case_notices(session: Session, case: Case, reporter: Person) -> list[Notice]:
    """The 'new case' emails, rendered: to whoever acts as head, and to the lead when that
    is someone else. If an account the report names was named in earlier cases the reader
    may see, their email says how many, and nothing else about them (the case page lists
    them)."""
    head = acting_head(session, case)
    lead = get_person(session, case.lead_id)
    counted = named_before(session, case)
    notices = []
    for person in [head] if lead.id == head.id else [head, lead]:
        # The head's key is the case's alone (as before the lead was told as well).
        extra = () if person.id == head.id else (person.id,)
        email = render_about_case(
            session,
            case,
            person,
            EmailKind.CASE_OPENED,
            reporter=reporter,
            label=procedure_for(case.incident_type).label,
            reported_before=(
                earlier_linked_count(session, actor_of(session, person), case) if counted else 0
            ),
        )
        key = dedup_key(EmailKind.CASE_OPENED, case.id, *extra)
        notices.append(Notice(person, key, email))
    return notices


def queue_notices(session: Session, case: Case, notices: list[Notice]) -> None:
    """Queue the rendered 'new case' emails (once each) and settle the step."""
    for notice in notices:
        queue_email(
            session,
            dedup_key=notice.dedup_key,
            to=notice.person,
            email=notice.email,
            kind=EmailKind.CASE_OPENED,
            case_id=case.id,
        )
    names = " and ".join(n.person.name for n in notices)
    finish_step(session, case.id, StepKey.NOTIFY_HEADTEACHER, outcome=f"{names} told by email")


def close(session: Session, case: Case, outcome: str) -> None:
    """Close the case and tell its reporter and lead (once each)."""
    close_case(session, case, outcome)
    # Closed again after a reopening: a new closing email (the first one's key is spent).
    reopened = len(data_of(session, case.id, AuditKind.CASE_REOPENED))
    rounds = (f"round{reopened}",) if reopened else ()
    finish_step(session, case.id, StepKey.CLOSE_CASE, outcome=outcome)
    for person_id in dict.fromkeys((case.reporter_id, case.lead_id)):
        email_about_case(
            session,
            case,
            get_person(session, person_id),
            EmailKind.CASE_CLOSED,
            dedup_key=dedup_key(EmailKind.CASE_CLOSED, case.id, person_id, *rounds),
        )
