"""Opening and closing: telling the headteacher, closing the case."""

from __future__ import annotations

from prefect import task
from sqlalchemy.orm import Session

from core.procedures import procedure_for
from db.cases import acting_head, close_case, finish_step, get_case, get_step, step_is_settled
from db.models import Case, CaseStatus, Person
from db.session import transaction
from flows.steps.context import STEP_OPTIONS, email_about_case

NOTIFY = "notify_headteacher"
CLOSE = "close_case"


def notify_headteacher_now(session: Session, case: Case, reporter: Person) -> None:
    """Queue the content-free 'new case' email; intake calls this in its own transaction."""
    head = acting_head(session, case)
    email_about_case(
        session,
        case,
        head,
        "case_opened",
        dedup_key=f"case_opened:{case.id}",
        reporter=reporter,
        label=procedure_for(case.incident_type).label,
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
            email_about_case(
                session, case, person, "case_closed", dedup_key=f"case_closed:{case.id}:{person_id}"
            )
        return outcome


@task(name="step_outcome", **STEP_OPTIONS)
async def step_outcome(case_id: int, step_key: str) -> str:
    """What a step recorded (e.g. a letter sent to N parents, or refused and why)."""
    with transaction() as session:
        return get_step(session, case_id, step_key).outcome
