"""Reporting an incident: the form, its validation, and opening the case."""

from __future__ import annotations

import logging
from dataclasses import astuple
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile

from api.errors import AppError, wants_json
from api.pages import render_page
from api.security import check_csrf, require_user
from casework.reconciler import record_flow_run
from core.files import evidence_files
from core.procedures import PROCEDURES, procedure_for
from core.rules import PLATFORMS, YEAR_GROUPS
from core.settings import get_settings
from db.audit import record_event
from db.cases import NewCase, acting_head_for, open_case
from db.models import Evidence, IncidentType, Person, Role
from db.people import case_lead
from db.session import transaction
from flows.steps.lifecycle import notify_headteacher_now
from flows.steps.safeguarding import settle_at_intake
from flows.trigger import start_case_flow
from forms.common import UploadedFile, check_evidence, validate
from forms.incident import IncidentForm
from forms.online_abuse import CONTENT_KINDS, RESPONSIBLE, TARGETS, OnlineAbuseForm
from forms.parent_contact import CONTACT_KINDS, ParentContactForm
from forms.pupil_contact import PupilContactForm
from forms.staff_conduct import CONCERN_KINDS, StaffConductForm

log = logging.getLogger("casework.intake")
router = APIRouter()

FORMS: dict[IncidentType, type[IncidentForm]] = {
    IncidentType.PUPIL_CONTACT: PupilContactForm,
    IncidentType.PARENT_CONTACT: ParentContactForm,
    IncidentType.ONLINE_ABUSE: OnlineAbuseForm,
    IncidentType.STAFF_CONDUCT: StaffConductForm,
}
# Screenshots are the heart of these two reports; for the others they are optional.
EVIDENCE_REQUIRED = {IncidentType.PUPIL_CONTACT, IncidentType.ONLINE_ABUSE}
NOT_FIELDS = {"csrf_token", "evidence", "evidence_source"}
STAFF_ROLES = (Role.HEADTEACHER, Role.DSL, Role.HR, Role.STAFF)
NO_FILES = (
    "Do not attach any file when the material includes sexual images of a child: "
    "describe it in words instead. Nothing has been saved; send the report again "
    "without the files."
)


def incident(slug: str) -> IncidentType:
    try:
        return IncidentType(slug)
    except ValueError:
        raise AppError(404, "Casework has no form for that kind of incident.") from None


def reporter_allowed(user: Person) -> Person:
    if user.role in (Role.AUDITOR, Role.PARENT):
        raise AppError(403, "Auditors can read cases but cannot report incidents.")
    return user


@router.get("/report")
async def choose(request: Request) -> Response:
    reporter_allowed(require_user(request))
    return render_page(request, "pages/report_choose.html", procedures=list(PROCEDURES.values()))


@router.get("/report/{slug}")
async def show_form(request: Request, slug: str) -> Response:
    user = reporter_allowed(require_user(request))
    kind = incident(slug)
    staff = await run_in_threadpool(staff_list, user.school_id)
    return form_page(request, kind, values={}, errors={}, staff=staff)


def staff_list(school_id: int) -> list[dict[str, Any]]:
    """Staff a report can be about, for the form's list."""
    with transaction() as session:
        people = session.scalars(
            select(Person)
            .where(
                Person.school_id == school_id, Person.role.in_(STAFF_ROLES), Person.active.is_(True)
            )
            .order_by(Person.name)
        )
        return [{"id": p.id, "name": p.name, "job_title": p.job_title} for p in people]


def form_page(
    request: Request,
    kind: IncidentType,
    values: dict[str, Any],
    errors: dict[str, str],
    staff: list[dict[str, Any]],
    status_code: int = 200,
) -> Response:
    settings = get_settings()
    return render_page(
        request,
        f"pages/report_{kind.value}.html",
        status_code=status_code,
        procedure=procedure_for(kind),
        values=values,
        errors=errors,
        platforms=PLATFORMS,
        year_groups=YEAR_GROUPS,
        max_file_mb=settings.max_file_bytes // (1024 * 1024),
        max_files=settings.max_files,
        staff=staff,
        evidence_required=kind in EVIDENCE_REQUIRED,
        contact_kinds=CONTACT_KINDS,
        targets=TARGETS,
        content_kinds=CONTENT_KINDS,
        responsible=RESPONSIBLE,
        concern_kinds=CONCERN_KINDS,
    )


async def read_uploads(form: FormData) -> list[UploadedFile]:
    uploads: list[UploadedFile] = []
    limit = get_settings().max_file_bytes
    for item in form.getlist("evidence"):
        if isinstance(item, UploadFile):
            # Read one byte past the limit: enough to know it is too big, no more.
            data = await item.read(limit + 1)
            uploads.append(UploadedFile(item.filename or "", item.content_type or "", data))
    return uploads


def form_values(form: FormData, model: type[IncidentForm]) -> dict[str, Any]:
    """The typed answers: text fields as strings, ticked boxes as lists."""
    values: dict[str, Any] = {}
    for key in {k for k, _ in form.multi_items()} - NOT_FIELDS:
        texts = [v for v in form.getlist(key) if isinstance(v, str)]
        values[key] = texts if key in model.list_fields else (texts[-1] if texts else "")
    return values


@router.post("/report/{slug}")
async def submit(request: Request, slug: str) -> Response:
    user = reporter_allowed(require_user(request))
    kind = incident(slug)
    settings = get_settings()
    try:
        form = await request.form(max_files=settings.max_files + 1, max_fields=80)
    except Exception as exc:  # multipart parse errors: bad input, not our failure
        raise AppError(400, f"The form could not be read ({exc}). Please send it again.") from exc
    check_csrf(request, form)
    values = form_values(form, FORMS[kind])
    model, errors = validate(FORMS[kind], values)
    uploads = await read_uploads(form)
    files = check_files(kind, values, uploads, errors)
    staff = await run_in_threadpool(staff_list, user.school_id)
    if model is not None:
        check_subject(model, staff, errors)
    if model is None or errors:
        return rejected(request, kind, values, errors, staff)
    source = str(form.get("evidence_source") or "")[:500]
    case_id = await run_in_threadpool(save_case, user, kind, model, files, source)
    await run_in_threadpool(start_flow_safely, case_id, kind)
    if wants_json(request):
        return JSONResponse({"case_id": case_id, "url": f"/cases/{case_id}"}, status_code=201)
    return RedirectResponse(f"/cases/{case_id}?opened=1", status_code=303)


def check_files(
    kind: IncidentType, values: dict[str, Any], uploads: list[UploadedFile], errors: dict[str, str]
) -> list[UploadedFile]:
    """The evidence to keep; problems are added to `errors`."""
    if values.get("sexual_images") == "yes":
        # Refused whatever the browser sent: no such image may ever be stored.
        if any(u.filename or u.data for u in uploads):
            errors["evidence"] = NO_FILES
        return []
    settings = get_settings()
    files, problem = check_evidence(
        uploads,
        max_bytes=settings.max_file_bytes,
        max_files=settings.max_files,
        required=kind in EVIDENCE_REQUIRED,
    )
    if problem:
        errors["evidence"] = problem + " Files are never kept from a failed submission."
    return files


def check_subject(model: IncidentForm, staff: list[dict[str, Any]], errors: dict[str, str]) -> None:
    subject = model.subject_staff_id()
    if subject is not None and subject not in {s["id"] for s in staff}:
        field = "subject_id" if isinstance(model, StaffConductForm) else "responsible_staff_id"
        errors[field] = "Choose a member of staff from the list."


def rejected(
    request: Request,
    kind: IncidentType,
    values: dict[str, Any],
    errors: dict[str, str],
    staff: list[dict[str, Any]],
) -> Response:
    if wants_json(request):
        return JSONResponse(
            {"error": {"status": 400, "message": "The report has problems.", "fields": errors}},
            status_code=400,
        )
    return form_page(request, kind, values, errors, staff, status_code=400)


def save_case(
    user: Person, kind: IncidentType, model: IncidentForm, files: list[UploadedFile], source: str
) -> int:
    """Write evidence files, then the case and everything it starts with, in one transaction."""
    store = evidence_files()
    stored = [(f, *astuple(store.save(f.data))[:2]) for f in files]
    try:
        with transaction() as session:
            reporter = session.get(Person, user.id)
            assert reporter is not None
            new = NewCase(
                incident_type=kind,
                platform=model.platform_label,
                occurred_at=model.occurred_at,
                description=model.description,
                details=model.details(),
                subject_id=model.subject_staff_id(),
                safeguarding=model.safeguarding,
            )
            case = open_case(
                session,
                school_id=reporter.school_id,
                reporter=reporter,
                lead=lead_for(session, reporter.school_id, new),
                new=new,
            )
            for upload, name, digest in stored:
                add_evidence(session, case.id, reporter, upload, name, digest, source)
            settle_at_intake(session, case, reporter)
            notify_headteacher_now(session, case, reporter)
            return case.id
    except Exception:
        store.discard([name for _, name, _ in stored])
        raise


def lead_for(session: Session, school_id: int, new: NewCase) -> Person:
    """The DSL leads, unless the case is about them; then whoever acts as head does."""
    lead = case_lead(session, school_id)
    if new.subject_id is None or lead.id != new.subject_id:
        return lead
    return acting_head_for(session, school_id, new.subject_id)


def add_evidence(
    session: Session,
    case_id: int,
    reporter: Person,
    upload: UploadedFile,
    stored_name: str,
    digest: str,
    source: str,
) -> None:
    item = Evidence(
        case_id=case_id,
        stored_name=stored_name,
        sha256=digest,
        size=len(upload.data),
        content_type=upload.content_type,
        original_filename=upload.filename,
        uploaded_by_id=reporter.id,
        source=source,
    )
    session.add(item)
    session.flush()
    record_event(
        session,
        case_id=case_id,
        kind="evidence.saved",
        actor=reporter,
        data={
            "evidence_id": item.id,
            "filename": upload.filename,
            "sha256": digest,
            "size": item.size,
            "content_type": item.content_type,
        },
    )


def start_flow_safely(case_id: int, kind: IncidentType) -> None:
    """Start the flow now if Prefect answers; otherwise the reconciler starts it later."""
    try:
        run_id = start_case_flow(case_id, kind)
    except Exception as exc:
        log.warning("could not start the flow for case %s yet: %s", case_id, exc)
        return
    record_flow_run(case_id, run_id)
