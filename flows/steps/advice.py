"""Advice to the member of staff, in the words of the incident type's template."""

from __future__ import annotations

from prefect import task

from core.templating import render
from db.cases import finish_step, get_case, step_is_settled
from db.models import Person, School
from db.session import transaction
from flows.steps.context import STEP_OPTIONS, base_context, email_about_case

ADVISE_STAFF = "advise_staff"


@task(name="advise_staff", **STEP_OPTIONS)
async def advise_staff(case_id: int) -> None:
    with transaction() as session:
        if step_is_settled(session, case_id, ADVISE_STAFF):
            return
        case = get_case(session, case_id)
        reporter = session.get(Person, case.reporter_id)
        email_about_case(
            session,
            case,
            reporter,
            f"{case.incident_type.value}_advice",
            dedup_key=f"advice:{case.id}",
            kind="advice",
            lead=session.get(Person, case.lead_id),
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
        email_about_case(
            session,
            case,
            reporter,
            "stock_response",
            dedup_key=f"stock_response:{case.id}",
            stock_text=stock_response_text(context["school"]),
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
