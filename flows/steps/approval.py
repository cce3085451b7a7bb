"""Steps that wait for a person: a task outcome or a headteacher's decision.

The request (row + emailed link) is made once. The flow then suspends; the web app
stores the decision and resumes it. Because a resumed run starts again from the top,
the decision is always read back from our database, never only from Prefect's input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from prefect import task
from prefect.flow_runs import suspend_flow_run
from prefect.input import RunInput
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.procedures import StepKind, procedure_for
from core.settings import get_settings
from core.templating import render_email
from db.approvals import for_step, open_request, renew_token
from db.audit import record_event
from db.cases import acting_head, get_case, mark_waiting, step_is_settled
from db.models import Approval, ApprovalKind, AuditEvent, Case, Decision, Person, Role
from db.outbox import queue_email
from db.session import transaction
from flows.steps.context import STEP_OPTIONS, action_link, base_context
from flows.trigger import pause_key


class StepDecided(RunInput):
    """What the web app hands the suspended run when it resumes it."""

    approval_id: int
    decision: str


@dataclass(frozen=True)
class PersonOutcome:
    decision: Decision
    reason: str = ""
    response: dict[str, Any] = field(default_factory=dict)

    @property
    def approved(self) -> bool:
        return self.decision == Decision.APPROVED

    def answer(self, name: str) -> Any:
        """One of the person's answers on the step's form."""
        return self.response.get(name)


def outcome_of(approval: Approval) -> PersonOutcome | None:
    if approval.decision is None:
        return None
    return PersonOutcome(approval.decision, approval.reason, dict(approval.response or {}))


def responsible_for(session: Session, case: Case, owner: Role | None) -> Person:
    """The headteacher's steps go to the acting head; the rest to the case lead."""
    if owner == Role.HEADTEACHER:
        return acting_head(session, case)
    lead = session.get(Person, case.lead_id)
    assert lead is not None
    return lead


def ask(session: Session, case: Case, step_key: str) -> Approval:
    """Create the request and queue its content-free email, unless it exists already."""
    spec = procedure_for(case.incident_type).step(step_key)
    kind = ApprovalKind.APPROVAL if spec.kind == StepKind.APPROVAL else ApprovalKind.TASK
    person = responsible_for(session, case, spec.owner)
    approval, token = open_request(
        session,
        case_id=case.id,
        step_key=step_key,
        kind=kind,
        approver=person,
        ttl=link_ttl(step_key),
    )
    if token is None:
        return approval
    mark_waiting(session, case.id, step_key, person, approval.expires_at)
    record_event(
        session,
        case_id=case.id,
        kind=f"{kind.value}.requested",
        data={"step": step_key, "from": person.name, "expires_at": approval.expires_at.isoformat()},
    )
    email_request(session, case, approval, person, token)
    return approval


def link_ttl(step_key: str = "") -> timedelta:
    """How long a step's link works; the platform's answer has its own deadline."""
    settings = get_settings()
    if step_key == "platform_response":
        return timedelta(hours=settings.platform_wait_hours)
    return timedelta(hours=settings.approval_ttl_hours)


def email_request(
    session: Session,
    case: Case,
    approval: Approval,
    person: Person,
    token: str,
    waiting_since: datetime | None = None,
) -> None:
    """Queue the emailed link for `token`: one email per token, never a second.

    `waiting_since` makes it a reminder: when the request was first made.
    """
    title = procedure_for(case.incident_type).step(approval.step_key).title
    route = "approvals" if approval.kind == ApprovalKind.APPROVAL else "tasks"
    email = render_email(
        f"emails/{approval.kind.value}_request",
        **base_context(session, case),
        person=person,
        step_title=title,
        link=action_link(route, token),
        expires_at=approval.expires_at,
        waiting_since=waiting_since,
    )
    queue_email(
        session,
        dedup_key=f"request:{approval.id}:{approval.token_hash[:16]}",
        to=person,
        email=email,
        kind=f"{approval.kind.value}_request",
        case_id=case.id,
    )


def reissue(session: Session, case: Case, approval: Approval, actor: Person) -> None:
    """Replace the link of an undecided request (lost or expired email); the old one dies."""
    person = session.get(Person, approval.approver_id)
    assert person is not None
    token = renew_token(session, approval, link_ttl(approval.step_key))
    mark_waiting(session, case.id, approval.step_key, person, approval.expires_at)
    record_event(
        session,
        case_id=case.id,
        kind=f"{approval.kind.value}.reissued",
        actor=actor,
        data={
            "step": approval.step_key,
            "to": person.name,
            "expires_at": approval.expires_at.isoformat(),
        },
    )
    email_request(session, case, approval, person, token)


def first_asked(session: Session, approval: Approval) -> datetime:
    """When the step's request was first made (its link may have been renewed since)."""
    requests = session.execute(
        select(AuditEvent.at, AuditEvent.data)
        .where(
            AuditEvent.case_id == approval.case_id,
            AuditEvent.kind == f"{approval.kind.value}.requested",
        )
        .order_by(AuditEvent.id)
    ).all()
    asked = [at for at, data in requests if data.get("step") == approval.step_key]
    return asked[0] if asked else approval.requested_at


def remind(session: Session, case: Case, approval: Approval) -> None:
    """Send a request still waiting again, with a fresh link; the old link stops working."""
    person = session.get(Person, approval.approver_id)
    assert person is not None
    since = first_asked(session, approval)
    token = renew_token(session, approval, link_ttl(approval.step_key))
    approval.reminders_sent += 1
    mark_waiting(session, case.id, approval.step_key, person, approval.expires_at)
    record_event(
        session,
        case_id=case.id,
        kind=f"{approval.kind.value}.reminded",
        data={
            "step": approval.step_key,
            "to": person.name,
            "reminder": approval.reminders_sent,
            "expires_at": approval.expires_at.isoformat(),
        },
    )
    email_request(session, case, approval, person, token, waiting_since=since)


@task(name="request_person", **STEP_OPTIONS)
async def request_person(case_id: int, step_key: str) -> PersonOutcome | None:
    """The recorded outcome if there is one; otherwise make sure someone has been asked."""
    with transaction() as session:
        existing = for_step(session, case_id, step_key)
        if existing is not None:
            return outcome_of(existing)
        ask(session, get_case(session, case_id), step_key)
        return None


@task(name="step_pending", **STEP_OPTIONS)
async def step_pending(case_id: int, step_key: str) -> bool:
    """True while a step is neither done nor skipped (e.g. skipped at intake)."""
    with transaction() as session:
        return not step_is_settled(session, case_id, step_key)


@task(name="read_outcome", **STEP_OPTIONS)
async def read_outcome(case_id: int, step_key: str) -> PersonOutcome:
    with transaction() as session:
        approval = for_step(session, case_id, step_key)
        outcome = outcome_of(approval) if approval else None
    if outcome is None:
        raise RuntimeError(f"case {case_id} resumed at {step_key} with no decision stored")
    return outcome


async def wait_for_person(case_id: int, step_key: str) -> PersonOutcome:
    """Return the step's outcome, suspending the flow run until a person gives it."""
    outcome = await request_person(case_id, step_key)
    if outcome is not None:
        return outcome
    timeout = int(timedelta(days=get_settings().suspend_timeout_days).total_seconds())
    await suspend_flow_run(wait_for_input=StepDecided, key=pause_key(step_key), timeout=timeout)
    return await read_outcome(case_id, step_key)
