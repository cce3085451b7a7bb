"""Case packs: the case summary, timeline and evidence list with hashes, for HR or police."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.procedures import procedure_for
from core.templating import render
from db.audit import case_events, record_event
from db.cases import evidence_of, get_case, steps_of
from db.models import AuditEvent, Case, Person, StepStatus, utcnow
from flows.steps.context import base_context

PACKS = {
    "police": "Police referral pack",
    "hr": "HR case pack",
}
HIDDEN = {"case.viewed", "evidence.viewed", "pack.viewed"}


def pack_context(session: Session, case: Case, kind: str) -> dict[str, Any]:
    return {
        **base_context(session, case),
        "title": PACKS[kind],
        "label": procedure_for(case.incident_type).label,
        "reporter": session.get(Person, case.reporter_id),
        "subject": session.get(Person, case.subject_id) if case.subject_id else None,
        "steps": steps_of(session, case.id),
        "events": [e for e in case_events(session, case.id) if e.kind not in HIDDEN],
        "evidence": evidence_of(session, case.id),
        "produced_at": utcnow(),
    }


def render_pack(session: Session, case_id: int, kind: str) -> str:
    """The pack as a printable HTML document, as the case stands now."""
    case = get_case(session, case_id)
    return render("letters/case_pack.html.j2", **pack_context(session, case, kind))


def record_pack(session: Session, case_id: int, kind: str) -> str:
    """Produce the pack for the trail: its fingerprint is kept with the event."""
    html = render_pack(session, case_id, kind)
    digest = hashlib.sha256(html.encode()).hexdigest()
    record_event(
        session,
        case_id=case_id,
        kind="pack.produced",
        data={"pack": kind, "sha256": digest, "bytes": len(html)},
    )
    return digest


@dataclass(frozen=True)
class Document:
    title: str
    url: str


def documents_of(session: Session, case: Case) -> list[Document]:
    """The documents a case has produced so far, for its page."""
    produced = session.scalars(
        select(AuditEvent.data).where(
            AuditEvent.case_id == case.id, AuditEvent.kind == "pack.produced"
        )
    )
    found = [
        Document(PACKS[kind], f"/cases/{case.id}/packs/{kind}")
        for kind in dict.fromkeys(str(d.get("pack")) for d in produced)
        if kind in PACKS
    ]
    statuses = {step.key: step.status for step in steps_of(session, case.id)}
    if statuses.get("invite_to_meeting") == StepStatus.DONE:
        found.append(Document("Meeting invitation", f"/cases/{case.id}/letters/meeting-invitation"))
    return found
