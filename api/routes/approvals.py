"""Emailed links: approvals (`/approvals/{token}`) and tasks (`/tasks/{token}`).

GET shows the page and changes nothing (mail scanners open links). POST stores the
decision once, atomically, and only then resumes the suspended flow run.

An answer that reaches outside the school (core.rules.needs_confirmation) also needs the
six-digit code the approver asks for on the page and receives in a second email
(services/confirmation.py): a scanner that fills in and submits every form has the link,
never the code. Without a valid code nothing is stored and the run is not resumed.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from api.deps import current_user, posted_form
from api.errors import AppError
from api.limits import links_per_ip
from api.pages import render_page
from api.security import client_ip
from api.views import LinkView, link_view
from core.enums import ApprovalKind, Decision, StepKey
from core.rules import confirmed_options, needs_confirmation
from core.templating import local_time
from db.approvals import by_passed_token, by_token
from db.models import Person, utcnow
from db.people import get_person
from db.session import transaction
from flows.trigger import deliver_decision
from forms.common import validate
from forms.registry import form_for_step
from forms.tasks import DECISIONS, DecisionForm, StepForm
from services.confirmation import CODE_MINUTES, check_code, send_code
from services.requests import Answer, decide

router = APIRouter()
ROUTES = {ApprovalKind.APPROVAL: "approvals", ApprovalKind.TASK: "tasks"}


def load_link(raw: str, kind: ApprovalKind, viewer: Person | None) -> LinkView:
    """The live request behind a link, or an AppError saying plainly why not."""
    with transaction() as session:
        approval = by_token(session, raw)
        if approval is None and by_passed_token(session, raw) is not None:
            raise AppError(
                410,
                "This request has been passed to someone else, so this link no longer "
                "works. Nothing more is needed from you; the case page shows who has it now.",
            )
        if approval is None or approval.kind != kind:
            raise AppError(
                404,
                "This link is not recognised. Use the newest email Casework "
                "sent you, or open the case from the Cases page.",
            )
        approver = get_person(session, approval.approver_id)
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
        return link_view(session, approval)


def page(
    request: Request,
    view: LinkView,
    values: dict[str, str],
    errors: dict[str, str],
    status_code: int = 200,
    code_sent: bool = False,
) -> Response:
    step = StepKey(view.approval.step_key)
    options = DECISIONS[step].options if step in DECISIONS else ()
    return render_page(
        request,
        f"pages/{ROUTES[view.approval.kind]}_link.html",
        options=options,
        status_code=status_code,
        view=view,
        values=values,
        errors=errors,
        step_template=f"pages/steps/{step}.html",
        needing=[label for value, label in options if value in confirmed_options(step)],
        code_sent=code_sent,
        code_minutes=CODE_MINUTES,
    )


def answer_of(model: StepForm, request: Request) -> Answer:
    """The form's answers as they are stored: the option chosen, or a task completed."""
    decision = Decision(model.decision) if isinstance(model, DecisionForm) else Decision.COMPLETED
    return Answer(
        decision=decision,
        reason=getattr(model, "reason", "") or getattr(model, "notes", ""),
        response=model.model_dump(),
        summary=model.summary(),
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent", ""),
    )


def store_answer(view: LinkView, answer: Answer) -> None:
    """The single-use write: only one caller can move the request from undecided."""
    with transaction() as session:
        approver = get_person(session, view.approver.id)
        if not decide(session, view.approval, answer, approver):
            raise AppError(
                409,
                "This link has just been used, so your answer was not "
                "recorded twice. Nothing more is needed.",
            )


def request_code(request: Request, view: LinkView) -> Response:
    """Email the approver a confirmation code (a second email, with no link in it)."""
    if not confirmed_options(view.approval.step_key):
        return page(request, view, values={}, errors={})
    with transaction() as session:
        approver = get_person(session, view.approver.id)
        problem = send_code(session, view.case, view.approval, approver)
    if problem:
        return page(request, view, {}, {"code": problem}, status_code=429)
    return page(request, view, values={}, errors={}, code_sent=True)


def confirm(view: LinkView, typed: str) -> str:
    """Use up the confirmation code typed; "" if it was right, else why not.

    Its own transaction, so a wrong try is counted even though nothing else is stored.
    """
    with transaction() as session:
        return check_code(session, view.approval, typed)


def show(request: Request, raw: str, kind: ApprovalKind) -> Response:
    view = load_link(raw, kind, current_user(request))
    return page(request, view, values={}, errors={})


def answer(request: Request, raw: str, kind: ApprovalKind, form: FormData) -> Response:
    """Validate the answer, store it once, then hand it to the waiting flow run."""
    view = load_link(raw, kind, current_user(request))
    values = {k: str(v) for k, v in form.items() if k != "csrf_token" and isinstance(v, str)}
    if values.pop("action", "") == "send_code":
        return request_code(request, view)
    typed = values.pop("code", "")
    model, errors = validate(form_for_step(view.approval.step_key), values)
    if model is None:
        return page(request, view, values, errors, status_code=400)
    given = answer_of(model, request)
    if needs_confirmation(view.approval.step_key, given.decision):
        problem = confirm(view, typed)
        if problem:
            return page(request, view, values, {"code": problem}, status_code=400)
    store_answer(view, given)
    deliver_decision(view.approval.id)
    return render_page(request, "pages/link_done.html", view=view, summary=model.summary())


@router.get("/approvals/{raw}")
def show_approval(request: Request, raw: str) -> Response:
    return show(request, raw, ApprovalKind.APPROVAL)


@router.post("/approvals/{raw}", dependencies=[Depends(links_per_ip)])
def answer_approval(request: Request, raw: str, form: FormData = Depends(posted_form)) -> Response:
    return answer(request, raw, ApprovalKind.APPROVAL, form)


@router.get("/tasks/{raw}")
def show_task(request: Request, raw: str) -> Response:
    return show(request, raw, ApprovalKind.TASK)


@router.post("/tasks/{raw}", dependencies=[Depends(links_per_ip)])
def answer_task(request: Request, raw: str, form: FormData = Depends(posted_form)) -> Response:
    return answer(request, raw, ApprovalKind.TASK, form)
