"""What the report routes share: the form page, a posted report read and checked, and the
visitor's own draft found (api/routes/intake.py sends the form, report_check.py the draft)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from api.deps import open_form, visitor
from api.errors import AppError
from api.pages import render_page
from api.security import Visitor
from core.enums import IncidentType
from core.procedures import procedure_for
from core.rules import PHASE_YEARS, PLATFORMS, YEAR_GROUPS
from core.settings import get_settings
from db.cases import NewCase, get_case
from db.drafts import Draft, find_draft
from db.people import staff_of
from db.session import Session, reading
from forms.common import UploadedFile, check_evidence, validate
from forms.incident import IncidentForm
from forms.online_abuse import CONTENT_KINDS, RESPONSIBLE, TARGETS
from forms.parent_contact import CONTACT_KINDS
from forms.registry import EVIDENCE_REQUIRED, INCIDENT_FORMS
from forms.staff_conduct import CONCERN_KINDS, StaffConductForm
from services.drafts import LIFETIME, being_sent, expired, forget_draft, sent_case

# Kept with the evidence rather than on the case; shown again after a failed submit.
EVIDENCE_SOURCE = "evidence_source"
# The draft a changed report replaces (its token), carried by the form.
DRAFT = "draft"
NOT_FIELDS = {"csrf_token", "evidence", DRAFT}
NO_FILES = (
    "Do not attach any file when the material includes sexual images of a child: "
    "describe it in words instead. Nothing has been saved; send the report again "
    "without the files."
)
UNKNOWN_DRAFT = (
    "There is no report waiting to be sent at this address. It may have been sent already "
    "or started by someone else. Start a new report from the menu."
)


@dataclass(frozen=True)
class Held:
    """A draft its owner has open: its token (from the address or the form) and itself."""

    token: str
    draft: Draft


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


def file_size(size: int) -> str:
    """A file's size as people read it: 272 bytes, 14 KB, 2.1 MB."""
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size // 1024} KB"
    return f"{size / (1024 * 1024):.1f} MB"


def staff_list(session: Session, seen: Visitor) -> list[dict[str, Any]]:
    """Staff a report can be about, for the form's list: never the person reporting."""
    return [
        {"id": p.id, "name": p.name, "job_title": p.job_title}
        for p in staff_of(session, seen.school_id)
        if p.id != seen.person.id
    ]


def staff_of_visitor(seen: Visitor) -> list[dict[str, Any]]:
    with reading() as session:
        return staff_list(session, seen)


def form_page(
    request: Request,
    kind: IncidentType,
    values: dict[str, Any],
    errors: dict[str, str],
    staff: list[dict[str, Any]],
    status_code: int = 200,
    held: Held | None = None,
) -> Response:
    """The report form, filled with `values`; with a draft, its files are named as kept."""
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
        draft_token=held.token if held else "",
        kept_files=held.draft.files if held else (),
        size_of=file_size,
    )


def draft_values(draft: Draft) -> dict[str, Any]:
    """The form's fields as the draft keeps them, to fill the form in again."""
    return {**draft.answers, EVIDENCE_SOURCE: draft.evidence_source}


def form_values(form: FormData, model: type[IncidentForm]) -> dict[str, Any]:
    """The typed answers: text fields as strings, ticked boxes as lists."""
    values: dict[str, Any] = {}
    for key in {k for k, _ in form.multi_items()} - NOT_FIELDS:
        texts = [v for v in form.getlist(key) if isinstance(v, str)]
        values[key] = texts if key in model.list_fields else (texts[-1] if texts else "")
    return values


def answers_in(values: dict[str, Any]) -> dict[str, Any]:
    """The answers the incident form checks: everything but where the evidence came from."""
    return {k: v for k, v in values.items() if k != EVIDENCE_SOURCE}


def source_in(values: dict[str, Any]) -> str:
    return str(values.get(EVIDENCE_SOURCE) or "")[:500]


def check_answers(
    kind: IncidentType, values: dict[str, Any], staff: list[dict[str, Any]]
) -> tuple[IncidentForm | None, dict[str, str]]:
    """The validated form, or every problem in words; the staff named must be in `staff`."""
    model, errors = validate(INCIDENT_FORMS[kind], answers_in(values))
    if model is not None:
        check_subject(model, staff, errors)
    return model, errors


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


def images_reported(values: dict[str, Any]) -> bool:
    """Sexual images of a child: no file is ever kept, new or from a draft."""
    return values.get("sexual_images") == "yes"


def check_files(
    kind: IncidentType,
    values: dict[str, Any],
    uploads: list[UploadedFile],
    errors: dict[str, str],
    kept: int = 0,
) -> list[UploadedFile]:
    """The new evidence to keep; problems are added to `errors`. `kept` files of a draft
    being changed stand in for new ones when none are attached."""
    attached = any(u.filename or u.data for u in uploads)
    if images_reported(values):
        # Refused whatever the browser sent: no such image may ever be stored.
        if attached:
            errors["evidence"] = NO_FILES
        return []
    if kept and not attached:
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


def own_draft(token: str, seen: Visitor, kind: IncidentType) -> Held:
    """The visitor's draft of this kind of report; 404 for any other, alike."""
    with reading() as session:
        draft = find_draft(session, token[:100])
    if draft is None or draft.person_id != seen.person.id or draft.incident_type != kind:
        raise AppError(404, UNKNOWN_DRAFT)
    if draft.school_id != seen.school_id:
        raise AppError(
            409,
            "You started this report while looking at another school. Switch back to that "
            "school at the top of the page to check and send it.",
        )
    return Held(token, draft)


def gone_page(request: Request, held: Held) -> Response | None:
    """The page for a draft that cannot be changed or sent any more, if it is one: already
    sent (or being sent), or too old (deleted now, with its files)."""
    draft = held.draft
    if draft.case_id is not None or being_sent(draft):
        return already_sent(request, draft)
    if expired(draft):
        forget_draft(draft)
        return render_page(
            request,
            "pages/report_gone.html",
            status_code=410,
            procedure=procedure_for(draft.incident_type),
            hours=int(LIFETIME.total_seconds() // 3600),
            case=None,
            sending=False,
        )
    return None


def already_sent(request: Request, draft: Draft) -> Response:
    """This report went (or is going) already: say so and link to its case, never a second."""
    case_id = draft.case_id or sent_case(draft.id)
    reference = ""
    if case_id is not None:
        with reading() as session:
            reference = get_case(session, case_id).reference
    return render_page(
        request,
        "pages/report_gone.html",
        status_code=409,
        procedure=procedure_for(draft.incident_type),
        case={"id": case_id, "reference": reference} if case_id else None,
        sending=case_id is None,
    )
