"""What every step's emails need: the school, the case, and links back into Casework."""

from __future__ import annotations

from typing import Any

from prefect.cache_policies import NO_CACHE
from sqlalchemy.orm import Session

from core.settings import get_settings
from core.templating import render_email
from db.models import Case, Person, School
from db.outbox import queue_email

# Steps are idempotent by (case id, step key) in our database; Prefect's result
# cache is neither needed nor trusted for that, so it is switched off.
STEP_OPTIONS: dict[str, Any] = {"cache_policy": NO_CACHE, "retries": 2, "retry_delay_seconds": 5}


def case_link(case_id: int) -> str:
    return f"{get_settings().base_url}/cases/{case_id}"


def action_link(kind: str, token: str) -> str:
    """The emailed link for an approval (`approvals`) or a task (`tasks`)."""
    return f"{get_settings().base_url}/{kind}/{token}"


def base_context(session: Session, case: Case) -> dict[str, Any]:
    school = session.get(School, case.school_id)
    return {"school": school, "case": case}


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
    email = render_email(
        f"emails/{template}",
        **base_context(session, case),
        person=person,
        link=case_link(case.id),
        **extra,
    )
    queue_email(
        session,
        dedup_key=dedup_key,
        to=person,
        email=email,
        kind=kind or template,
        case_id=case.id,
        priority=priority,
    )
