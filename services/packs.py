"""Case packs for HR and the police: summary, steps, timeline and evidence with hashes."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from core.enums import ACCESS_KINDS, AuditKind, StepKey
from core.procedures import procedure_for
from core.templating import render
from db.audit import case_events, data_of, record_event
from db.cases import get_case, steps_of
from db.evidence import evidence_of
from db.models import Case, StepStatus, utcnow
from db.people import find_person, get_person
from db.session import Session
from services.notices import base_context

PACKS = {
    "police": "Police referral pack",
    "hr": "HR case pack",
}


def pack_context(session: Session, case: Case, kind: str) -> dict[str, Any]:
    return {
        **base_context(session, case),
        "title": PACKS[kind],
        "label": procedure_for(case.incident_type).label,
        "reporter": get_person(session, case.reporter_id),
        "subject": find_person(session, case.subject_id),
        "steps": steps_of(session, case.id),
        "events": [e for e in case_events(session, case.id) if e.kind not in ACCESS_KINDS],
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
        kind=AuditKind.PACK_PRODUCED,
        data={"pack": kind, "sha256": digest, "bytes": len(html)},
    )
    return digest


@dataclass(frozen=True)
class Document:
    title: str
    url: str


def documents_of(session: Session, case: Case) -> list[Document]:
    """The documents a case has produced so far, for its page."""
    produced = data_of(session, case.id, AuditKind.PACK_PRODUCED)
    found = [
        Document(PACKS[kind], f"/cases/{case.id}/packs/{kind}")
        for kind in dict.fromkeys(str(d.get("pack")) for d in produced)
        if kind in PACKS
    ]
    statuses = {step.key: step.status for step in steps_of(session, case.id)}
    if statuses.get(StepKey.INVITE_TO_MEETING) == StepStatus.DONE:
        found.append(Document("Meeting invitation", f"/cases/{case.id}/letters/meeting-invitation"))
    return found
