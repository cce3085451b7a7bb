"""Advice to the member of staff, in the words of the incident type's template."""

from __future__ import annotations

from prefect import task

from casework.templating import render
from db.cases import finish_step, get_case, step_is_settled
from db.models import Person, School
from db.outbox import queue_email, render_email
from db.session import transaction
from flows.steps.context import STEP_OPTIONS, base_context, case_link

ADVISE_STAFF = "advise_staff"


@task(name="advise_staff", **STEP_OPTIONS)
async def advise_staff(case_id: int) -> None:
    with transaction() as session:
        if step_is_settled(session, case_id, ADVISE_STAFF):
            return
        case = get_case(session, case_id)
        reporter = session.get(Person, case.reporter_id)
        email = render_email(
            f"emails/{case.incident_type.value}_advice",
            **base_context(session, case),
            person=reporter,
            lead=session.get(Person, case.lead_id),
            link=case_link(case.id),
        )
        queue_email(
            session,
            dedup_key=f"advice:{case.id}",
            to=reporter,
            email=email,
            kind="advice",
            case_id=case.id,
        )
        finish_step(session, case_id, ADVISE_STAFF, outcome=f"advice emailed to {reporter.name}")


SEND_STOCK_RESPONSE = "send_stock_response"


@task(name="send_stock_response", **STEP_OPTIONS)
async def send_stock_response(case_id: int) -> None:
    """Give the staff member the school's reply to parents, ready to copy and send."""
    with transaction() as session:
        if step_is_settled(session, case_id, SEND_STOCK_RESPONSE):
            return
        case = get_case(session, case_id)
        reporter = session.get(Person, case.reporter_id)
        context = base_context(session, case)
        email = render_email(
            "emails/stock_response",
            **context,
            person=reporter,
            stock_text=stock_response_text(context["school"]),
            link=case_link(case.id),
        )
        queue_email(
            session,
            dedup_key=f"stock_response:{case.id}",
            to=reporter,
            email=email,
            kind="stock_response",
            case_id=case.id,
        )
        finish_step(
            session,
            case_id,
            SEND_STOCK_RESPONSE,
            outcome=f"stock response emailed to {reporter.name}",
        )


def stock_response_text(school: School) -> str:
    """The school's own wording if it has set one, otherwise Casework's default."""
    if school.stock_response.strip():
        return school.stock_response.strip()
    return render("letters/parent_contact/stock_response.txt.j2", school=school).strip()
