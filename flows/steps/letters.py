"""The letter to all parents: one rendering, one individual message per parent."""

from __future__ import annotations

from prefect import task
from sqlalchemy.orm import Session

from db.audit import record_event
from db.cases import finish_step, get_case, step_is_settled
from db.models import Case, Person, utcnow
from db.outbox import RenderedEmail, queue_email, render_email
from db.people import headteacher, parents_with_email
from db.session import transaction
from flows.steps.context import STEP_OPTIONS, base_context

SEND_LETTER = "send_parent_letter"


def render_parent_letter(session: Session, case: Case) -> RenderedEmail:
    """The exact letter parents receive; the approval page shows this same rendering."""
    return render_email(
        f"letters/{case.incident_type.value}/parent_letter",
        **base_context(session, case),
        date=utcnow(),
        signatory=headteacher(session, case.school_id),
    )


@task(name="send_parent_letter", **STEP_OPTIONS)
async def send_parent_letter(case_id: int) -> int:
    """Queue the letter to every parent with an email address; returns how many."""
    with transaction() as session:
        if step_is_settled(session, case_id, SEND_LETTER):
            return 0
        case = get_case(session, case_id)
        letter = render_parent_letter(session, case)
        parents = parents_with_email(session, case.school_id)
        for parent in parents:
            queue_parent_letter(session, case, parent, letter)
        record_event(
            session,
            case_id=case_id,
            kind="letter.sent",
            data={"recipients": len(parents), "subject": letter.subject},
        )
        finish_step(
            session,
            case_id,
            SEND_LETTER,
            outcome=f"letter queued to {len(parents)} parents, one message each",
        )
        return len(parents)


def queue_parent_letter(
    session: Session, case: Case, parent: Person, letter: RenderedEmail
) -> None:
    queue_email(
        session,
        dedup_key=f"letter:{case.id}:{parent.id}",
        to=parent,
        email=letter,
        kind="parent_letter",
        case_id=case.id,
        audit=False,
    )


@task(name="skip_step", **STEP_OPTIONS)
async def skip_step(case_id: int, step_key: str, reason: str) -> None:
    with transaction() as session:
        if not step_is_settled(session, case_id, step_key):
            finish_step(session, case_id, step_key, outcome=reason, skipped=True)
