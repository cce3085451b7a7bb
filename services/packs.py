"""Case packs for HR and the police: made once, when produced, and shown as they were made.

`record_pack` renders the pack as the case stands (the report's answers in words, the steps,
the evidence with its hashes and the timeline), makes its PDF and stores both write-once
(`core.files.pack_files`), with a row (db/packs.py) and a pack.produced event carrying the
PDF's SHA-256. Viewing a pack reads those files back byte for byte, so the pack shown later
is the pack that was sent, whatever happened to the case since. Disposal removes the files
(services/retention.py).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.enums import ACCESS_KINDS, AuditKind, StepKey
from core.files import FileStore, StoredFile, pack_files
from core.pdf import render_pdf
from core.procedures import procedure_for
from core.templating import local_time, render
from db.audit import case_events, data_of
from db.cases import get_case, steps_of
from db.evidence import evidence_of
from db.models import AuditEvent, Case, CasePack, StepStatus, utcnow
from db.packs import packs_of, save_pack, undo_on_rollback
from db.people import find_person, get_person, names_of
from db.session import Session
from forms.answers import answers_of, people_in
from services.chronology import HAPPENED, who_and_role
from services.notices import base_context

PACKS = {
    "police": "Police referral pack",
    "hr": "HR case pack",
}
# When the procedure produces each pack, for a page that has none to show.
PRODUCED_WHEN = {
    "police": "when the headteacher decides to refer the case to the police",
    "hr": "when the case is escalated to HR",
}
STEP_STATUS = {
    StepStatus.PENDING: "Not started",
    StepStatus.WAITING: "Waiting for someone",
    StepStatus.DONE: "Done",
    StepStatus.SKIPPED: "Not needed",
}


@dataclass(frozen=True)
class Happening:
    """One line of the pack's timeline."""

    at: datetime
    what: str
    who: str


def timeline(events: list[AuditEvent]) -> list[Happening]:
    """The case's events in words; who opened what (access) is left out."""
    lines = []
    for event in events:
        if event.kind in ACCESS_KINDS:
            continue
        name, role = who_and_role(event.actor)
        what = HAPPENED.get(event.kind, event.kind.replace(".", " ").capitalize())
        lines.append(Happening(event.at, what, f"{name}, {role}" if role else name))
    return lines


def pack_context(session: Session, case: Case, kind: str, produced_at: datetime) -> dict[str, Any]:
    return {
        **base_context(session, case),
        "title": PACKS[kind],
        "label": procedure_for(case.incident_type).label,
        "reporter": get_person(session, case.reporter_id),
        "lead": get_person(session, case.lead_id),
        "subject": find_person(session, case.subject_id),
        "answers": answers_of(case, names_of(session, people_in(case))),
        "steps": [(s.title, STEP_STATUS[s.status], s.outcome) for s in steps_of(session, case.id)],
        "events": timeline(case_events(session, case.id)),
        "evidence": evidence_of(session, case.id),
        "produced_at": produced_at,
    }


def render_pack(session: Session, case_id: int, kind: str, produced_at: datetime) -> str:
    """The pack as a printable HTML document, as the case stands now."""
    case = get_case(session, case_id)
    return render("letters/case_pack.html.j2", **pack_context(session, case, kind, produced_at))


def _kept(session: Session, store: FileStore, data: bytes) -> StoredFile:
    """`data` stored write-once, and removed again if this transaction rolls back."""
    stored = store.save(data)
    undo_on_rollback(session, lambda: store.discard([stored.stored_name]))
    return stored


def record_pack(session: Session, case_id: int, kind: str) -> CasePack:
    """Produce the pack: render it once, make its PDF and keep both as they are now.

    The PDF is made inside the caller's transaction, because the event that records the pack
    carries the PDF's SHA-256; a pack takes well under a second to make."""
    produced_at = utcnow()
    html = render_pack(session, case_id, kind, produced_at)
    pdf = render_pdf(html)
    store = pack_files()
    files = (_kept(session, store, html.encode()), _kept(session, store, pdf))
    return save_pack(session, case_id, kind, files, produced_at)


def pack_path(case_id: int, kind: str, number: int | None = None) -> str:
    """The pack's page: the latest of its kind, or the `number`th produced (from 1)."""
    return f"/cases/{case_id}/packs/{kind}" + (f"-{number}" if number else "")


class NoPack(LookupError):
    """The case has no such pack; the message says why, for the person who asked."""


class PackDamaged(RuntimeError):
    """A stored pack file is missing or no longer matches its SHA-256."""


def produced_pack(session: Session, case: Case, kind: str, number: int | None = None) -> CasePack:
    """The case's latest pack of `kind`, or its `number`th (from 1); NoPack if there is none."""
    rows = packs_of(session, case.id, kind)
    title = PACKS[kind]
    if not rows:
        raise NoPack(no_pack_reason(session, case, kind))
    if number is None:
        return rows[-1]
    if not 1 <= number <= len(rows):
        raise NoPack(
            f"There is no {title} number {number} on case {case.reference}: it has had "
            f"{len(rows)} produced."
        )
    return rows[number - 1]


def no_pack_reason(session: Session, case: Case, kind: str) -> str:
    title = PACKS[kind]
    if any(d.get("pack") == kind for d in data_of(session, case.id, AuditKind.PACK_PRODUCED)):
        return (
            f"The {title} of case {case.reference} was produced before Casework kept a copy of "
            "each pack as it was sent, so it cannot be shown. Its fingerprint is in the audit "
            "trail."
        )
    return f"Case {case.reference} has no {title}. Casework produces one {PRODUCED_WHEN[kind]}."


def pack_bytes(row: CasePack, as_pdf: bool) -> bytes:
    """The stored HTML or PDF of a pack, checked against the SHA-256 recorded with it."""
    name, sha256 = (row.pdf_name, row.pdf_sha256) if as_pdf else (row.html_name, row.html_sha256)
    store = pack_files()
    try:
        data = store.path(name).read_bytes()
    except OSError as exc:
        raise PackDamaged(f"the stored file of pack {row.id} cannot be read: {exc}") from exc
    # Checked as read, not beforehand: what is served is what was checked.
    if hashlib.sha256(data).hexdigest() != sha256:
        raise PackDamaged(f"the stored file of pack {row.id} does not match its SHA-256")
    return data


@dataclass(frozen=True)
class Document:
    title: str
    url: str


def documents_of(session: Session, case: Case) -> list[Document]:
    """The documents a case has produced so far, for its page: each kind of pack's latest,
    then its earlier ones, and the meeting invitation once written."""
    by_kind: dict[str, list[CasePack]] = {}
    for row in packs_of(session, case.id):
        by_kind.setdefault(row.kind, []).append(row)
    found: list[Document] = []
    for kind, rows in by_kind.items():
        found.append(Document(PACKS[kind], pack_path(case.id, kind)))
        found += [
            Document(
                f"Earlier {PACKS[kind]} ({n} of {len(rows)}), produced "
                f"{local_time(row.produced_at)}",
                pack_path(case.id, kind, n),
            )
            for n, row in enumerate(rows[:-1], start=1)
        ]
    statuses = {step.key: step.status for step in steps_of(session, case.id)}
    if statuses.get(StepKey.INVITE_TO_MEETING) == StepStatus.DONE:
        found.append(Document("Meeting invitation", f"/cases/{case.id}/letters/meeting-invitation"))
    return found
