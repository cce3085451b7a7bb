"""Opening and closing: telling the headteacher, closing the case."""

from __future__ import annotations

from prefect import task
from sqlalchemy.orm import Session

from db.cases import acting_head, close_case, finish_step, get_case, get_step, step_is_settled
from db.models import Case, CaseStatus, Person
from db.outbox import queue_email, render_email
from db.session import transaction
from flows.procedures import procedure_for
from flows.steps.context import STEP_OPTIONS, base_context, case_link

NOTIFY = "notify_headteacher"
CLOSE = "close_case"


def notify_headteacher_now(session: Session, case: Case, reporter: Person) -> None:
    """Queue the content-free 'new case' email; intake calls this in its own transaction."""
    head = acting_head(session, case)
    email = render_email(
        "emails/case_opened",
        **base_context(session, case),
        person=head,
        reporter=reporter,
        label=procedure_for(case.incident_type).label,
        link=case_link(case.id),
    )
    queue_email(
        session,
        dedup_key=f"case_opened:{case.id}",
        to=head,
        email=email,
        kind="case_opened",
        case_id=case.id,
    )
    finish_step(session, case.id, NOTIFY, outcome=f"{head.name} told by email")


@task(name="notify_headteacher", **STEP_OPTIONS)
async def notify_headteacher(case_id: int) -> None:
    with transaction() as session:
        if step_is_settled(session, case_id, NOTIFY):
            return
        case = get_case(session, case_id)
        notify_headteacher_now(session, case, session.get(Person, case.reporter_id))


@task(name="close_case", **STEP_OPTIONS)
async def close(case_id: int, outcome: str) -> str:
    """Close the case and tell its reporter and lead (once)."""
    with transaction() as session:
        case = get_case(session, case_id)
        if case.status == CaseStatus.CLOSED:
            return case.outcome
        close_case(session, case, outcome)
        finish_step(session, case_id, CLOSE, outcome=outcome)
        for person_id in dict.fromkeys((case.reporter_id, case.lead_id)):
            person = session.get(Person, person_id)
            email = render_email(
                "emails/case_closed",
                **base_context(session, case),
                person=person,
                link=case_link(case.id),
            )
            queue_email(
                session,
                dedup_key=f"case_closed:{case.id}:{person_id}",
                to=person,
                email=email,
                kind="case_closed",
                case_id=case.id,
            )
        return outcome


@task(name="step_outcome", **STEP_OPTIONS)
async def step_outcome(case_id: int, step_key: str) -> str:
    """What a step recorded (e.g. a letter sent to N parents, or refused and why)."""
    with transaction() as session:
        return get_step(session, case_id, step_key).outcome
