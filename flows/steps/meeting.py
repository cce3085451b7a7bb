"""Inviting a parent or other adult to a meeting at school."""

from __future__ import annotations

from prefect import task
from sqlalchemy.orm import Session

from core.templating import RenderedEmail, render_email
from db.cases import acting_head, finish_step, get_case, step_is_settled
from db.models import Case, utcnow
from db.outbox import queue_email
from db.session import transaction
from flows.steps.context import STEP_OPTIONS, base_context

INVITE = "invite_to_meeting"


def render_invitation(session: Session, case: Case) -> RenderedEmail:
    """The invitation letter: the email body and the printable page are this one rendering."""
    return render_email(
        "letters/online_abuse/meeting_invitation",
        **base_context(session, case),
        invitee=str((case.details or {}).get("responsible_name", "")) or "Parent or carer",
        date=utcnow(),
        signatory=acting_head(session, case),
    )


@task(name="invite_to_meeting", **STEP_OPTIONS)
async def invite_to_meeting(case_id: int) -> None:
    with transaction() as session:
        if step_is_settled(session, case_id, INVITE):
            return
        case = get_case(session, case_id)
        letter = render_invitation(session, case)
        address = str((case.details or {}).get("responsible_email", ""))
        if address:
            queue_email(
                session,
                dedup_key=f"meeting_invitation:{case_id}",
                to=address,
                email=letter,
                kind="meeting_invitation",
                case_id=case_id,
            )
            outcome = f"Invitation emailed to {address}; a printable copy is on the case."
        else:
            outcome = "No email address known: the invitation is ready to print from the case."
        finish_step(session, case_id, INVITE, outcome=outcome)
