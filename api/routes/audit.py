"""The auditor's views: chain verification and per-case exports."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from api.deps import acting, allowed, read_only, unit_of_work
from api.errors import AppError
from api.pages import render_page
from api.security import Visitor
from api.views import log_access, viewable_case
from core.access import Action, Actor
from core.enums import AuditKind
from core.settings import get_settings
from db.audit import case_events, verify_chain
from db.models import AuditEvent
from db.session import Session
from services.audit_checkpoints import compare_with_checkpoint

router = APIRouter()
COLUMNS = ("seq", "at", "kind", "actor", "data", "prev_hash", "hash")
FORMATS = ("json", "csv")


@router.get("/audit")
def audit_home(
    request: Request,
    _: Visitor = Depends(allowed(Action.READ_SCHOOL_AUDIT)),
    session: Session = Depends(read_only),
) -> Response:
    report = verify_chain(session)
    # Compared only: a page view never signs a checkpoint (`casework audit verify` does).
    checkpoint = compare_with_checkpoint(session, get_settings()) if report.ok else ""
    return render_page(request, "pages/audit.html", report=report, checkpoint=checkpoint)


def as_row(event: AuditEvent) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "at": event.at.isoformat(timespec="microseconds"),
        "case_id": event.case_id,
        "kind": event.kind,
        "actor": event.actor,
        "data": event.data,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }


@router.get("/cases/{case_id}/audit.{fmt}")
def export(
    case_id: int,
    fmt: str,
    actor: Actor = Depends(acting),
    session: Session = Depends(unit_of_work),
) -> Response:
    """The case's events with their hashes, so each can be checked outside Casework."""
    if fmt not in FORMATS:
        raise AppError(404, "Exports are available as .json or .csv.")
    case = viewable_case(session, actor, case_id, Action.EXPORT_TRAIL)
    rows = [as_row(e) for e in case_events(session, case.id)]
    log_access(session, case, actor, AuditKind.AUDIT_EXPORTED, events=len(rows))
    headers = {"Content-Disposition": f'attachment; filename="{case.reference}-audit.{fmt}"'}
    if fmt == "json":
        body = json.dumps({"case": case.reference, "events": rows}, indent=2, sort_keys=True)
        return Response(body, media_type="application/json", headers=headers)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({**row, "data": json.dumps(row["data"], sort_keys=True)})
    return Response(out.getvalue(), media_type="text/csv", headers=headers)
