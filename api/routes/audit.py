"""The auditor's views: the school's chain checked, a case's chronology and check, a person's
history, and per-case exports. Every one of them is itself written to the trail."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from api.deps import acting, allowed, posted_form, read_only, unit_of_work
from api.errors import AppError
from api.pages import render_page
from api.security import Visitor
from api.views import case_with_facts, log_access, log_school_view, viewable_case
from core.access import Action, Actor, may
from core.enums import AuditKind
from core.settings import get_settings
from db.audit import (
    case_events,
    event_of_case,
    mark_in_error,
    marked_in_error,
    school_chain,
    verify_case,
    verify_chain,
)
from db.cases import cases_involving
from db.models import AuditEvent, Case
from db.people import get_person, people_of, person_at
from db.session import Session
from services.audit_bundle import build_bundle
from services.audit_checkpoints import compare_with_checkpoint
from services.chronology import chronology

router = APIRouter()
COLUMNS = ("seq", "at", "kind", "actor", "data", "prev_hash", "hash")
FORMATS = ("json", "csv")


@router.get("/audit")
def audit_home(
    request: Request,
    seen: Visitor = Depends(allowed(Action.READ_SCHOOL_AUDIT)),
    session: Session = Depends(unit_of_work),
) -> Response:
    """The school's chain re-hashed and compared with the last signed checkpoint (a page
    view never signs one: `casework audit verify` does), and whose history to read."""
    chain = school_chain(seen.school_id)
    report = verify_chain(session, chains=[chain])
    checkpoint = compare_with_checkpoint(session, get_settings(), {chain}) if report.ok else ""
    intact = report.ok and not checkpoint
    log_school_view(session, seen.actor, seen.school_id, "chain", intact=intact)
    return render_page(
        request,
        "pages/audit.html",
        report=report,
        checkpoint=checkpoint,
        staff=people_of(session, seen.school_id),
    )


@router.get("/cases/{case_id}/chronology")
def case_chronology(
    request: Request,
    case_id: int,
    actor: Actor = Depends(acting),
    session: Session = Depends(unit_of_work),
) -> Response:
    """Everything that happened on the case, in order, in words."""
    case, facts = case_with_facts(session, actor, case_id, Action.EXPORT_TRAIL)
    entries = chronology(case_events(session, case.id), marked_in_error(session, case.id))
    log_access(session, case, actor, AuditKind.AUDIT_VIEWED, view="chronology", events=len(entries))
    return render_page(
        request,
        "pages/audit_chronology.html",
        case=case,
        entries=entries,
        may_correct=may(actor, Action.CORRECT_CASE, facts),
    )


@router.get("/cases/{case_id}/verify")
def verify_one_case(
    request: Request,
    case_id: int,
    actor: Actor = Depends(acting),
    session: Session = Depends(unit_of_work),
) -> Response:
    """The case's events re-hashed, each checked against the event before it on the chain."""
    case = viewable_case(session, actor, case_id, Action.EXPORT_TRAIL)
    check = verify_case(session, case.id)
    chain = school_chain(case.school_id)
    checkpoint = compare_with_checkpoint(session, get_settings(), {chain}) if check.ok else ""
    intact = check.ok and not checkpoint
    log_access(session, case, actor, AuditKind.AUDIT_VIEWED, view="verify", intact=intact)
    return render_page(
        request, "pages/audit_verify_case.html", case=case, check=check, checkpoint=checkpoint
    )


@router.get("/audit/people/{person_id}")
def person_history(
    request: Request,
    person_id: int,
    seen: Visitor = Depends(allowed(Action.READ_SCHOOL_AUDIT)),
    session: Session = Depends(unit_of_work),
) -> Response:
    """Every case a person had a part in, and what part: for an allegation against them."""
    person = person_at(session, seen.school_id, person_id)
    if person is None:
        raise AppError(404, "There is no one with that number at this school.")
    cases = cases_involving(session, person.id, seen.actor)
    found = {"person_id": person.id, "cases": len(cases)}
    log_school_view(session, seen.actor, seen.school_id, "person", **found)
    return render_page(request, "pages/audit_person.html", person=person, cases=cases)


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


@router.get("/cases/{case_id}/bundle.zip")
def bundle(
    case_id: int,
    actor: Actor = Depends(acting),
    session: Session = Depends(unit_of_work),
) -> Response:
    """The case's audit bundle: chronology PDF, events, chain links, evidence, manifest."""
    case = viewable_case(session, actor, case_id, Action.EXPORT_TRAIL)
    data = build_bundle(session, case, get_person(session, actor.id), get_settings())
    log_access(session, case, actor, AuditKind.AUDIT_EXPORTED, format="bundle", bytes=len(data))
    headers = {"Content-Disposition": f'attachment; filename="{case.reference}-audit-bundle.zip"'}
    return Response(data, media_type="application/zip", headers=headers)


MAX_REASON = 1000


@router.get("/cases/{case_id}/events/{seq}/error")
def mark_in_error_page(
    request: Request,
    case_id: int,
    seq: int,
    actor: Actor = Depends(acting),
    session: Session = Depends(read_only),
) -> Response:
    """The form that marks one of the case's events as recorded in error."""
    case, event = wrong_event(session, actor, case_id, seq)
    return error_page(request, session, case, event, {}, {})


@router.post("/cases/{case_id}/events/{seq}/error")
def mark_event_in_error(
    request: Request,
    case_id: int,
    seq: int,
    actor: Actor = Depends(acting),
    form: FormData = Depends(posted_form),
    session: Session = Depends(unit_of_work),
) -> Response:
    """Record that the event was wrong, and why; the event itself stays as it was written."""
    case, event = wrong_event(session, actor, case_id, seq)
    reason = str(form.get("reason") or "").strip()
    problem = (
        "Say why the event is wrong."
        if not reason
        else f"Keep the reason to {MAX_REASON:,} characters."
        if len(reason) > MAX_REASON
        else ""
    )
    if problem:
        return error_page(request, session, case, event, {"reason": reason}, {"reason": problem})
    mark_in_error(session, event.seq, reason, get_person(session, actor.id))
    return RedirectResponse(f"/cases/{case.id}/chronology#event-{event.seq}", status_code=303)


def wrong_event(session: Session, actor: Actor, case_id: int, seq: int) -> tuple[Case, AuditEvent]:
    """The case, if the person may correct it, and its event `seq` (404 if not the case's)."""
    case = viewable_case(session, actor, case_id, Action.CORRECT_CASE)
    event = event_of_case(session, case.id, seq)
    if event is None:
        raise AppError(404, f"Case {case.reference} has no event {seq}.")
    return case, event


def error_page(
    request: Request,
    session: Session,
    case: Case,
    event: AuditEvent,
    values: dict[str, str],
    errors: dict[str, str],
) -> Response:
    marked = marked_in_error(session, case.id)
    return render_page(
        request,
        "pages/audit_mark_in_error.html",
        status_code=400 if errors else 200,
        case=case,
        entry=chronology([event], marked)[0],
        values=values,
        errors=errors,
    )
