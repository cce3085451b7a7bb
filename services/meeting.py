"""Inviting a parent or other adult to a meeting at school (procedure C)."""

from __future__ import annotations

from core.enums import EmailKind, StepKey
from core.templating import RenderedEmail, render_email
from db.cases import acting_head, finish_step
from db.models import Case, utcnow
from db.outbox import dedup_key, queue_email
from db.session import Session
from services.notices import base_context


def render_invitation(session: Session, case: Case) -> RenderedEmail:
    """The invitation letter: the email body and the printable page are this one rendering."""
    return render_email(
        "letters/online_abuse/meeting_invitation",
        **base_context(session, case),
        invitee=str((case.details or {}).get("responsible_name", "")) or "Parent or carer",
        date=utcnow(),
        signatory=acting_head(session, case),
    )


def invite_to_meeting(session: Session, case: Case) -> None:
    """Email the invitation when an address is known; either way it is printable from the case."""
    letter = render_invitation(session, case)
    address = str((case.details or {}).get("responsible_email", ""))
    if address:
        queue_email(
            session,
            dedup_key=dedup_key(EmailKind.MEETING_INVITATION, case.id),
            to=address,
            email=letter,
            kind=EmailKind.MEETING_INVITATION,
            case_id=case.id,
        )
        outcome = f"Invitation emailed to {address}; a printable copy is on the case."
    else:
        outcome = "No email address known: the invitation is ready to print from the case."
    finish_step(session, case.id, StepKey.INVITE_TO_MEETING, outcome=outcome)
