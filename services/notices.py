"""Emails about a case: what every template is given, links back into Casework, queueing.

Notices are content-free: the kind of case and a link, never a pupil's name or details.
"""

from __future__ import annotations

from typing import Any

from core.enums import ApprovalKind
from core.settings import get_settings
from core.templating import RenderedEmail, render_email
from db.models import Case, Person
from db.outbox import queue_email
from db.schools import get_school
from db.session import Session


def case_link(case_id: int) -> str:
    return f"{get_settings().base_url}/cases/{case_id}"


def action_link(kind: ApprovalKind, token: str) -> str:
    """The emailed link for an approval (`/approvals/...`) or a task (`/tasks/...`)."""
    route = "approvals" if kind == ApprovalKind.APPROVAL else "tasks"
    return f"{get_settings().base_url}/{route}/{token}"


def base_context(session: Session, case: Case) -> dict[str, Any]:
    """What every email, letter and pack about a case can use."""
    return {"school": get_school(session, case.school_id), "case": case}


def render_about_case(
    session: Session, case: Case, person: Person, template: str, **extra: Any
) -> RenderedEmail:
    """The email to `person` about `case`, linking to its page, rendered but not queued."""
    return render_email(
        f"emails/{template}",
        **base_context(session, case),
        person=person,
        link=case_link(case.id),
        **extra,
    )


def email_about_case(
    session: Session,
    case: Case,
    person: Person,
    template: str,
    *,
    dedup_key: str,
    kind: str | None = None,
    priority: int = 0,
    **extra: Any,
) -> None:
    """Queue one email to `person` about `case` (once per `dedup_key`), linking to its page."""
    email = render_about_case(session, case, person, template, **extra)
    queue_email(
        session,
        dedup_key=dedup_key,
        to=person,
        email=email,
        kind=kind or template,
        case_id=case.id,
        priority=priority,
    )
