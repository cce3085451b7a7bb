"""Answering requests: by emailed link (`/approvals/{token}`, `/tasks/{token}`) or signed in
from My work (`/work`, `/work/{id}`): one form, one decision path.

GET shows the page and changes nothing (mail scanners open links). POST stores the
decision once, atomically, and only then resumes the suspended flow run. Whichever way an
answer comes in, the other way stops working: the request is decided.

An answer that reaches outside the school (core.rules.needs_confirmation) given through a
link also needs the six-digit code the approver asks for on the page and receives in a
second email (services/confirmation.py): a scanner that fills in and submits every form has
the link, never the code. Signed in, the person has already proved who they are (with a
second factor for the roles that decide such things), so My work asks for no code.

The letter to parents may be approved in the approver's own words (services/letter_edit.py):
every answer to its page shows and checks the letter as they have just edited it.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from api import evidence_access
from api.deps import current_user, posted_form, read_only, signed_in
from api.errors import AppError
from api.letter_progress import progress_after_answer
from api.limits import links_per_ip
from api.pages import render_page
from api.request_views import LinkView, link_view, with_posted_wording, work_items
from api.security import client_ip
from core.enums import ApprovalKind, Decision, StepKey, Via
from core.rules import confirmed_options, needs_confirmation
from core.templating import local_time
from db.approvals import by_passed_token, by_token, get_approval
from db.models import Approval, Person, utcnow
from db.people import actor_of, get_person
from db.session import Session, reading, transaction
from forms.common import validate
from forms.registry import form_for_step
from forms.tasks import DECISIONS, DecisionForm, StepForm
from services.confirmation import CODE_MINUTES, check_code, send_code
from services.letter_edit import with_edit
from services.requests import Answer, decide, no_longer_answerable

router = APIRouter()
ROUTES = {ApprovalKind.APPROVAL: "approvals", ApprovalKind.TASK: "tasks"}


def settled(session: Session, approval: Approval, what: str) -> AppError | None:
    """Why a request can no longer be answered, if it cannot; `what` names it ("This link")."""
    closed = no_longer_answerable(session, approval)
    if closed == "decided":
        return AppError(
            410,
            f"{what} has already been used: the answer was recorded on "
            f"{local_time(approval.decided_at)}. Nothing more is needed.",
        )
    if closed == "passed_on":
        # Said the same way whatever the reason, and with nothing of the case: whoever reads
        # this may be someone who no longer has any business with it.
        return AppError(
            410,
            f"{what} has been passed on: the person it was sent to can no longer answer it, "
            "so it now waits for someone else at the school. Nothing more is needed from "
            "you, and nothing was recorded.",
        )
    if closed:
        return AppError(
            410,
            f"{what} was withdrawn on the case, so nothing more is needed. If the "
            "case needs you again, Casework sends a new email.",
        )
    return None


def load_link(raw: str, kind: ApprovalKind, viewer: Person | None) -> LinkView:
    """The live request behind a link and its page, or an AppError saying plainly why not."""
    with transaction() as session:
        return link_view(session, live_request(session, raw, kind, viewer))


def live_request(session: Session, raw: str, kind: ApprovalKind, viewer: Person | None) -> Approval:
    """The request a link is for, while it may still be answered by `viewer` (signed out,
    or its own person); otherwise an AppError saying plainly why not."""
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
    if viewer is not None and viewer.id != approval.approver_id:
        # Whom it was sent to is not said: a forwarded link tells its reader nothing more.
        raise AppError(
            403,
            "This link was sent to someone else, not to you, so it cannot be used while "
            "you are signed in. Nothing has been recorded. If the request should be yours, "
            "ask whoever runs the case to pass it to you.",
        )
    problem = settled(session, approval, "This link")
    if problem is not None:
        raise problem
    if approval.expires_at <= utcnow():
        raise AppError(
            410,
            f"This link expired on {local_time(approval.expires_at)}. Open it from "
            "My work once signed in, or ask the designated safeguarding lead to send "
            "a new one from the case page.",
        )
    return approval


def load_own(approval_id: int, person: Person) -> LinkView:
    """A request of the signed-in person's, still waiting, whatever its link's expiry."""
    with transaction() as session:
        approval = get_approval(session, approval_id)
        if approval is None or approval.approver_id != person.id:
            raise AppError(404, "That request is not waiting for you. See My work for yours.")
        problem = settled(session, approval, "This request")
        if problem is not None:
            raise problem
        return link_view(session, approval)


def page(
    request: Request,
    view: LinkView,
    values: dict[str, str],
    errors: dict[str, str],
    status_code: int = 200,
    code_sent: bool = False,
    via: Via = Via.LINK,
) -> Response:
    step = StepKey(view.approval.step_key)
    options = DECISIONS[step].options if step in DECISIONS else ()
    needing = [label for value, label in options if value in confirmed_options(step)]
    return render_page(
        request,
        f"pages/{ROUTES[view.approval.kind]}_link.html",
        options=options,
        status_code=status_code,
        view=view,
        values=values,
        errors=errors,
        step_template=f"pages/steps/{step}.html",
        needing=needing if via == Via.LINK else [],
        in_app=via == Via.APP,
        # Opened by its link, the page shows files through the link; signed in, as the case
        # page does.
        evidence_base=request.url.path.rstrip("/") + "/evidence" if via == Via.LINK else "",
        code_sent=code_sent,
        code_minutes=CODE_MINUTES,
    )


def answer_of(model: StepForm, request: Request, via: Via) -> Answer:
    """The form's answers as they are stored: the option chosen, or a task completed."""
    decision = Decision(model.decision) if isinstance(model, DecisionForm) else Decision.COMPLETED
    return Answer(
        decision=decision,
        reason=getattr(model, "reason", "") or getattr(model, "notes", ""),
        response=model.model_dump(),
        summary=model.summary(),
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent", ""),
        via=via,
    )


def store_answer(view: LinkView, answer: Answer) -> None:
    """The single-use write: only one caller can move the request from undecided."""
    with transaction() as session:
        approver = get_person(session, view.approver.id)
        if not decide(session, view.approval, answer, approver):
            raise AppError(
                409,
                "This request has just been answered, so your answer was not "
                "recorded twice. Nothing more is needed.",
            )


def request_code(request: Request, view: LinkView, values: dict[str, str]) -> Response:
    """Email the approver a confirmation code (a second email, with no link in it).

    The page comes back with everything they had typed on it, an edited letter included.
    """
    if not confirmed_options(view.approval.step_key):
        return page(request, view, values, errors={})
    with transaction() as session:
        approver = get_person(session, view.approver.id)
        problem = send_code(session, view.case, view.approval, approver)
    if problem:
        return page(request, view, values, {"code": problem}, status_code=429)
    return page(request, view, values, errors={}, code_sent=True)


def confirm(view: LinkView, typed: str) -> str:
    """Use up the confirmation code typed; "" if it was right, else why not.

    Its own transaction, so a wrong try is counted even though nothing else is stored.
    """
    with transaction() as session:
        return check_code(session, view.approval, typed)


def answer(request: Request, view: LinkView, form: FormData, via: Via) -> Response:
    """Validate the answer, store it once, then hand it to the waiting flow run."""
    values = {k: str(v) for k, v in form.items() if k != "csrf_token" and isinstance(v, str)}
    view = with_posted_wording(view, values)
    if values.pop("action", "") == "send_code" and via == Via.LINK:
        return request_code(request, view, values)
    typed = values.pop("code", "")
    model, errors = validate(form_for_step(view.approval.step_key), values)
    if model is None:
        return page(request, view, values, errors, status_code=400, via=via)
    step = view.approval.step_key
    given, errors = with_edit(step, answer_of(model, request, via), view.preview)
    if errors:
        return page(request, view, values, errors, status_code=400, via=via)
    if via == Via.LINK and needs_confirmation(step, given.decision):
        problem = confirm(view, typed)
        if problem:
            return page(request, view, values, {"code": problem}, status_code=400)
    # The worker hands the decision to the waiting run within a moment (casework/handoff.py).
    store_answer(view, given)
    return render_page(
        request,
        "pages/link_done.html",
        view=view,
        summary=model.summary(),
        in_app=via == Via.APP,
        letter_progress=progress_after_answer(view.case.id, step),
    )


@router.get("/approvals/{raw}", dependencies=[Depends(links_per_ip)])
def show_approval(request: Request, raw: str) -> Response:
    view = load_link(raw, ApprovalKind.APPROVAL, current_user(request))
    return page(request, view, values={}, errors={})


@router.post("/approvals/{raw}", dependencies=[Depends(links_per_ip)])
def answer_approval(request: Request, raw: str, form: FormData = Depends(posted_form)) -> Response:
    view = load_link(raw, ApprovalKind.APPROVAL, current_user(request))
    return answer(request, view, form, Via.LINK)


@router.get("/tasks/{raw}", dependencies=[Depends(links_per_ip)])
def show_task(request: Request, raw: str) -> Response:
    view = load_link(raw, ApprovalKind.TASK, current_user(request))
    return page(request, view, values={}, errors={})


@router.post("/tasks/{raw}", dependencies=[Depends(links_per_ip)])
def answer_task(request: Request, raw: str, form: FormData = Depends(posted_form)) -> Response:
    view = load_link(raw, ApprovalKind.TASK, current_user(request))
    return answer(request, view, form, Via.LINK)


@router.get("/approvals/{raw}/evidence/{evidence_id}", dependencies=[Depends(links_per_ip)])
def approval_evidence(request: Request, raw: str, evidence_id: int) -> Response:
    """An evidence file, for the person the request is for, while their link works."""
    return link_evidence(request, raw, ApprovalKind.APPROVAL, evidence_id)


@router.get("/tasks/{raw}/evidence/{evidence_id}", dependencies=[Depends(links_per_ip)])
def task_evidence(request: Request, raw: str, evidence_id: int) -> Response:
    return link_evidence(request, raw, ApprovalKind.TASK, evidence_id)


@router.get("/approvals/{raw}/evidence/{evidence_id}/preview", dependencies=[Depends(links_per_ip)])
def approval_evidence_preview(request: Request, raw: str, evidence_id: int) -> Response:
    return link_evidence(request, raw, ApprovalKind.APPROVAL, evidence_id, preview=True)


@router.get("/tasks/{raw}/evidence/{evidence_id}/preview", dependencies=[Depends(links_per_ip)])
def task_evidence_preview(request: Request, raw: str, evidence_id: int) -> Response:
    return link_evidence(request, raw, ApprovalKind.TASK, evidence_id, preview=True)


def link_evidence(
    request: Request, raw: str, kind: ApprovalKind, evidence_id: int, preview: bool = False
) -> Response:
    """The file or its preview as the person asked would see it on the case page: the link
    stands in for signing in, so it opens only what the access policy lets them open."""
    # Only the link is checked here, not the request's whole page: a page of pictures asks
    # once for each.
    with reading() as session:
        approval = live_request(session, raw, kind, current_user(request))
        actor = actor_of(session, get_person(session, approval.approver_id))
        case_id = approval.case_id
    if preview:
        size = request.query_params.get("size", "thumb")
        return evidence_access.preview(actor, case_id, evidence_id, size, via="link")
    return evidence_access.download(actor, case_id, evidence_id, via="link")


@router.get("/work")
def my_work_page(
    request: Request, person: Person = Depends(signed_in), session: Session = Depends(read_only)
) -> Response:
    """Everything waiting for the signed-in person's answer, across their cases."""
    return render_page(request, "pages/my_work.html", items=work_items(session, person))


@router.get("/work/{approval_id}")
def show_own(request: Request, approval_id: int, person: Person = Depends(signed_in)) -> Response:
    return page(request, load_own(approval_id, person), values={}, errors={}, via=Via.APP)


@router.post("/work/{approval_id}")
def answer_own(
    request: Request,
    approval_id: int,
    person: Person = Depends(signed_in),
    form: FormData = Depends(posted_form),
) -> Response:
    return answer(request, load_own(approval_id, person), form, Via.APP)
