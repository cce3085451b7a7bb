"""Opening a case's evidence: the original file and its preview, for a signed-in person on
the case page or for the person an emailed request is for, on that request's page. Both ask
the access policy the same question, refuse alike and log every file shown."""

from __future__ import annotations

from typing import Any

from fastapi.responses import Response

from api.errors import AppError
from api.pages import attachment
from api.views import case_with_facts, log_access
from core.access import Actor, may_download
from core.enums import AuditKind
from core.files import evidence_files
from db.evidence import evidence_in_case
from db.models import Case, Evidence
from db.session import Session, reading, transaction
from services.previews import MEDIA_TYPE as PREVIEW_TYPE
from services.previews import NoPreview, Original, preview_of

# A preview is only ever shown as a picture: nothing in it may run or be framed elsewhere.
PREVIEW_CSP = "default-src 'none'; img-src 'self'; frame-ancestors 'none'; sandbox"


def openable_evidence(
    session: Session, actor: Actor, case_id: int, evidence_id: int
) -> tuple[Case, Evidence]:
    """The case and one of its evidence files, if `actor` may open the file: the download and
    the preview both ask here, so they refuse alike."""
    case, facts = case_with_facts(session, actor, case_id)
    if case.disposed_at is not None:
        raise AppError(410, "This case was disposed of: its evidence files no longer exist.")
    item = evidence_in_case(session, case.id, evidence_id)
    if item is None:
        raise AppError(404, "That evidence file is not part of this case.")
    if not may_download(actor, facts, item.uploaded_by_id):
        raise AppError(403, "Only the people running this case can download its evidence.")
    return case, item


def opened(
    session: Session, actor: Actor, case_id: int, evidence_id: int, **logged: Any
) -> Evidence:
    """The file, if `actor` may open it, with its opening logged (and `logged` with it)."""
    case, item = openable_evidence(session, actor, case_id, evidence_id)
    log_access(
        session,
        case,
        actor,
        AuditKind.EVIDENCE_VIEWED,
        evidence_id=item.id,
        sha256=item.sha256,
        **logged,
    )
    return item


def download(actor: Actor, case_id: int, evidence_id: int, **logged: Any) -> Response:
    """The original bytes, as an attachment; the access is logged with `logged`."""
    with transaction() as session:
        item = opened(session, actor, case_id, evidence_id, **logged)
        name, kind, digest = item.original_filename, item.content_type, item.sha256
        data = evidence_files().path(item.stored_name).read_bytes()
    return attachment(data, kind, name, ("X-Evidence-SHA256", digest))


def preview(actor: Actor, case_id: int, evidence_id: int, size: str, **logged: Any) -> Response:
    """A small copy of an image file, with no metadata (`size` "view" for a larger one). It
    is made between two short transactions, so decoding a picture never holds the audit
    chain's lock; the access is logged once it is ready."""
    with reading() as session:
        _, item = openable_evidence(session, actor, case_id, evidence_id)
        original = Original(item.stored_name, item.sha256, item.content_type)
    try:
        data = preview_of(original, size)
    except NoPreview as exc:
        raise AppError(404, str(exc), title="No preview of this file") from None
    with transaction() as session:
        opened(session, actor, case_id, evidence_id, preview=size, **logged)
    # Never kept by the browser: a school computer is often shared.
    return Response(
        data,
        media_type=PREVIEW_TYPE,
        headers={"Cache-Control": "private, no-store", "Content-Security-Policy": PREVIEW_CSP},
    )
