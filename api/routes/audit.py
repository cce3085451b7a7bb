"""The auditor's views: chain verification and per-case exports."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from api.errors import AppError
from api.pages import render_page
from api.routes.cases import viewable_case
from api.security import require_user
from db.audit import ChainReport, case_events, record_event, verify_chain
from db.cases import CASE_RUNNERS
from db.models import AuditEvent, Person
from db.session import reading, transaction

router = APIRouter()
COLUMNS = ("seq", "at", "kind", "actor", "data", "prev_hash", "hash")


def require_reviewer(request: Request) -> Person:
    user = require_user(request)
    if user.role not in CASE_RUNNERS:
        raise AppError(
            403,
            "The audit trail is open to the headteacher, the designated "
            "safeguarding lead and auditors.",
        )
    return user


def run_verify() -> ChainReport:
    with reading() as session:
        return verify_chain(session)


@router.get("/audit")
async def audit_home(request: Request) -> Response:
    require_reviewer(request)
    report = await run_in_threadpool(run_verify)
    return render_page(request, "pages/audit.html", report=report)


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


def export_rows(user: Person, case_id: int) -> tuple[str, list[dict[str, Any]]]:
    with transaction() as session:
        case = viewable_case(session, user, case_id)
        rows = [as_row(e) for e in case_events(session, case.id)]
        record_event(
            session,
            case_id=case.id,
            kind="audit.exported",
            actor=session.get(Person, user.id),
            data={"events": len(rows)},
        )
        return case.reference, rows


@router.get("/cases/{case_id}/audit.{fmt}")
async def export(request: Request, case_id: int, fmt: str) -> Response:
    """The case's events with their hashes, so each can be checked outside Casework."""
    user = require_reviewer(request)
    if fmt not in ("json", "csv"):
        raise AppError(404, "Exports are available as .json or .csv.")
    reference, rows = await run_in_threadpool(export_rows, user, case_id)
    filename = f"{reference}-audit.{fmt}"
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if fmt == "json":
        body = json.dumps({"case": reference, "events": rows}, indent=2, sort_keys=True)
        return Response(body, media_type="application/json", headers=headers)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({**row, "data": json.dumps(row["data"], sort_keys=True)})
    return Response(out.getvalue(), media_type="text/csv", headers=headers)
