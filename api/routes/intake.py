"""Reporting an incident: the form, its validation, and opening the case."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from api.deps import allowed, open_form, read_only, read_uploads, visitor
from api.errors import AppError, wants_json
from api.pages import render_page
from api.security import Visitor
from core.access import Action
from core.enums import IncidentType
from core.procedures import PROCEDURES, procedure_for
from core.rules import PHASE_YEARS, PLATFORMS, YEAR_GROUPS
from core.settings import get_settings
from db.cases import NewCase
from db.people import staff_of
from db.session import Session, reading
from forms.common import UploadedFile, check_evidence, validate
from forms.incident import IncidentForm
from forms.online_abuse import CONTENT_KINDS, RESPONSIBLE, TARGETS
from forms.parent_contact import CONTACT_KINDS
from forms.registry import EVIDENCE_REQUIRED, INCIDENT_FORMS
from forms.staff_conduct import CONCERN_KINDS, StaffConductForm
from services.intake import open_reported_case

router = APIRouter()
reporter = allowed(Action.REPORT)
NOT_FIELDS = {"csrf_token", "evidence"}
# Kept with the evidence rather than on the case; shown again after a failed submit.
EVIDENCE_SOURCE = "evidence_source"
NO_FILES = (
    "Do not attach any file when the material includes sexual images of a child: "
    "describe it in words instead. Nothing has been saved; send the report again "
    "without the files."
)


def incident(slug: str) -> IncidentType:
    """The incident type named in the address (a path dependency)."""
    try:
        return IncidentType(slug)
    except ValueError:
        raise AppError(404, "Casework has no form for that kind of incident.") from None


async def report_form(request: Request) -> AsyncIterator[FormData]:
    """The posted report with its files, within the upload limits, CSRF-checked."""
    limits = {"max_files": get_settings().max_files + 1, "max_fields": 80}
    async with open_form(request, **limits) as form:
        yield form


@router.get("/report")
def choose(request: Request, _: Visitor = Depends(reporter)) -> Response:
    return render_page(request, "pages/report_choose.html", procedures=list(PROCEDURES.values()))


@router.get("/report/{slug}")
def show_form(
    request: Request,
    seen: Visitor = Depends(reporter),
    kind: IncidentType = Depends(incident),
    session: Session = Depends(read_only),
) -> Response:
    return form_page(request, kind, values={}, errors={}, staff=staff_list(session, seen))


def staff_list(session: Session, seen: Visitor) -> list[dict[str, Any]]:
    """Staff a report can be about, for the form's list: never the person reporting."""
    return [
        {"id": p.id, "name": p.name, "job_title": p.job_title}
        for p in staff_of(session, seen.school_id)
        if p.id != seen.person.id
    ]


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
        year_groups=PHASE_YEARS.get(visitor(request).school_phase, YEAR_GROUPS),
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


def form_values(form: FormData, model: type[IncidentForm]) -> dict[str, Any]:
    """The typed answers: text fields as strings, ticked boxes as lists."""
    values: dict[str, Any] = {}
    for key in {k for k, _ in form.multi_items()} - NOT_FIELDS:
        texts = [v for v in form.getlist(key) if isinstance(v, str)]
        values[key] = texts if key in model.list_fields else (texts[-1] if texts else "")
    return values


@router.post("/report/{slug}")
def submit(
    request: Request,
    seen: Visitor = Depends(reporter),
    kind: IncidentType = Depends(incident),
    form: FormData = Depends(report_form),
) -> Response:
    """Validate everything, then open the case in one call. The worker starts its procedure
    (casework/handoff.py): the web app never waits for Prefect's server, however many
    reports arrive at once."""
    values = form_values(form, INCIDENT_FORMS[kind])
    answers = {k: v for k, v in values.items() if k != EVIDENCE_SOURCE}
    model, errors = validate(INCIDENT_FORMS[kind], answers)
    files = check_files(kind, values, read_uploads(form), errors)
    with reading() as session:
        staff = staff_list(session, seen)
    if model is not None:
        check_subject(model, staff, errors)
    if model is None or errors:
        return rejected(request, kind, values, errors, staff)
    source = str(values.get(EVIDENCE_SOURCE) or "")[:500]
    case_id = open_reported_case(
        seen.person.id, seen.school_id, new_case(kind, model), files, source
    )
    if wants_json(request):
        return JSONResponse({"case_id": case_id, "url": f"/cases/{case_id}"}, status_code=201)
    return RedirectResponse(f"/cases/{case_id}?opened=1", status_code=303)


def new_case(kind: IncidentType, model: IncidentForm) -> NewCase:
    """What the validated form tells intake about the incident."""
    return NewCase(
        incident_type=kind,
        platform=model.platform_label,
        occurred_at=model.occurred_at,
        description=model.description,
        details=model.details(),
        subject_id=model.subject_staff_id(),
        safeguarding=model.safeguarding,
    )


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
