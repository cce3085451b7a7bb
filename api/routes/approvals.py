"""Emailed links: approvals (`/approvals/{token}`) and tasks (`/tasks/{token}`).

GET shows the page and changes nothing (mail scanners open links). POST stores the
decision once, atomically, and only then resumes the suspended flow run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from api.errors import AppError
from api.pages import render_page
from api.security import check_csrf, client_ip, current_user
from casework.reconciler import deliver_decision
from core.procedures import procedure_for
from core.templating import local_time
from db.approvals import by_token, claim_decision
from db.audit import record_event
from db.cases import finish_step, steps_of
from db.models import Approval, ApprovalKind, Case, CaseStep, Decision, Person, School, utcnow
from db.session import transaction
from flows.steps.letters import letter_preview
from flows.steps.platform import platform_report
from forms.common import validate
from forms.tasks import DECISIONS, DecisionForm, StepForm, form_for_step

router = APIRouter()
ROUTE_KIND = {"approvals": ApprovalKind.APPROVAL, "tasks": ApprovalKind.TASK}


@dataclass
class LinkView:
    """Everything a link's page needs, read in one transaction."""

    approval: Approval
    case: Case
    approver: Person
    step_title: str
    label: str
    steps: list[CaseStep]
    preview: dict[str, Any]


def load_link(raw: str, kind: ApprovalKind, viewer: Person | None) -> LinkView:
    """The live request behind a link, or an AppError saying plainly why not."""
    with transaction() as session:
        approval = by_token(session, raw)
        if approval is None or approval.kind != kind:
            raise AppError(
                404,
                "This link is not recognised. Use the newest email Casework "
                "sent you, or open the case from the Cases page.",
            )
        approver = session.get(Person, approval.approver_id)
        case = session.get(Case, approval.case_id)
        assert approver is not None and case is not None
        if viewer is not None and viewer.id != approver.id:
            raise AppError(
                403,
                f"This link was sent to {approver.name} and only works for "
                "them. You are signed in as someone else.",
            )
        if approval.decision is not None:
            raise AppError(
                410,
                "This link has already been used: the answer was recorded on "
                f"{local_time(approval.decided_at)}. Nothing more is needed.",
            )
        if approval.expires_at <= utcnow():
            raise AppError(
                410,
                f"This link expired on {local_time(approval.expires_at)}. Ask "
                "the designated safeguarding lead to send a new one from the case page.",
            )
        procedure = procedure_for(case.incident_type)
        title = procedure.step(approval.step_key).title
        preview = previews(session, case, approval)
        steps = steps_of(session, case.id)
        session.expunge_all()
        return LinkView(approval, case, approver, title, procedure.label, steps, preview)


def previews(session: Any, case: Case, approval: Approval) -> dict[str, Any]:
    """What the decision is about, shown exactly as it will go out."""
    if approval.step_key == "report_to_platform":
        school = session.get(School, case.school_id)
        return platform_report(case, school.name if school else "our school")
    if approval.step_key == "approve_parent_letter":
        return letter_preview(session, case)
    return {}


def page(
    request: Request,
    view: LinkView,
    route: str,
    values: dict[str, str],
    errors: dict[str, str],
    status_code: int = 200,
) -> Response:
    return render_page(
        request,
        f"pages/{route}_link.html",
        options=DECISIONS[view.approval.step_key].options
        if view.approval.step_key in DECISIONS
        else (),
        status_code=status_code,
        view=view,
        values=values,
        errors=errors,
        step_template=f"pages/steps/{view.approval.step_key}.html",
    )


def route_kind(route: str) -> ApprovalKind:
    if route not in ROUTE_KIND:
        raise AppError(404, "There is nothing at this address.")
    return ROUTE_KIND[route]


@router.get("/{route}/{raw}")
async def show(request: Request, route: str, raw: str) -> Response:
    view = await run_in_threadpool(load_link, raw, route_kind(route), current_user(request))
    return page(request, view, route, values={}, errors={})


@router.post("/{route}/{raw}")
async def decide(request: Request, route: str, raw: str) -> Response:
    form = await request.form()
    check_csrf(request, form)
    kind = route_kind(route)
    view = await run_in_threadpool(load_link, raw, kind, current_user(request))
    values = {k: str(v) for k, v in form.items() if k != "csrf_token" and isinstance(v, str)}
    model, errors = validate(form_for_step(view.approval.step_key), values)
    if model is None:
        return page(request, view, route, values, errors, status_code=400)
    ip, agent = client_ip(request), request.headers.get("user-agent", "")
    await run_in_threadpool(store_decision, view, model, ip, agent)
    await run_in_threadpool(deliver_decision, view.approval.id)
    return render_page(request, "pages/link_done.html", view=view, summary=model.summary())


def decision_of(model: StepForm) -> Decision:
    if isinstance(model, DecisionForm):
        return Decision(model.decision)
    return Decision.COMPLETED


def store_decision(view: LinkView, model: StepForm, ip: str, agent: str) -> None:
    """The single-use write: only one caller can move the request from undecided."""
    decision = decision_of(model)
    reason = getattr(model, "reason", "") or getattr(model, "notes", "")
    response = model.model_dump()
    with transaction() as session:
        won = claim_decision(
            session,
            view.approval.id,
            decision=decision,
            reason=reason,
            response=response,
            ip=ip,
            user_agent=agent,
        )
        if not won:
            raise AppError(
                409,
                "This link has just been used, so your answer was not "
                "recorded twice. Nothing more is needed.",
            )
        approver = session.get(Person, view.approver.id)
        event = (
            "approval.decided" if view.approval.kind == ApprovalKind.APPROVAL else "task.completed"
        )
        record_event(
            session,
            case_id=view.case.id,
            kind=event,
            actor=approver,
            data={
                "step": view.approval.step_key,
                "decision": decision.value,
                "reason": reason,
                "answers": response,
                "ip": ip,
            },
        )
        finish_step(
            session, view.case.id, view.approval.step_key, outcome=model.summary(), actor=approver
        )
