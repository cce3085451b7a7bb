"""Evidence: the rows for originals kept byte for byte (the bytes are in `core.files`)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.enums import AuditKind
from core.files import StoredFile
from db.audit import record_event
from db.models import Case, Evidence, Person


def add_evidence(
    session: Session,
    case_id: int,
    uploader: Person,
    stored: StoredFile,
    *,
    filename: str,
    content_type: str,
    source: str,
) -> Evidence:
    """Record one stored original and its fingerprint in the case's trail."""
    item = Evidence(
        case_id=case_id,
        stored_name=stored.stored_name,
        sha256=stored.sha256,
        size=stored.size,
        content_type=content_type,
        original_filename=filename,
        uploaded_by_id=uploader.id,
        source=source,
    )
    session.add(item)
    session.flush()
    record_event(
        session,
        case_id=case_id,
        kind=AuditKind.EVIDENCE_SAVED,
        actor=uploader,
        data={
            "evidence_id": item.id,
            "filename": filename,
            "sha256": stored.sha256,
            "size": item.size,
            "content_type": content_type,
        },
    )
    return item


def evidence_of(session: Session, case_id: int) -> list[Evidence]:
    return list(
        session.scalars(select(Evidence).where(Evidence.case_id == case_id).order_by(Evidence.id))
    )


def evidence_in_case(session: Session, case_id: int, evidence_id: int) -> Evidence | None:
    """The evidence item, if it belongs to this case."""
    item = session.get(Evidence, evidence_id)
    return item if item is not None and item.case_id == case_id else None


def erase_evidence(session: Session, case_id: int) -> list[str]:
    """Disposal: forget what each of the case's files was called and where it came from,
    and return their stored names so the bytes can be removed once this commits. The rows
    stay, with size and SHA-256, so the trail's fingerprints still have their rows."""
    names: list[str] = []
    for item in evidence_of(session, case_id):
        item.original_filename, item.source = "", ""
        names.append(item.stored_name)
    session.flush()
    return names


def kept_evidence(session: Session) -> list[tuple[str, int, str, str]]:
    """Every evidence file that should still be on disk (its case not disposed of): the
    case's reference, the file's id, stored name and the SHA-256 recorded when it was saved."""
    rows = session.execute(
        select(Case.reference, Evidence.id, Evidence.stored_name, Evidence.sha256)
        .join(Case, Case.id == Evidence.case_id)
        .where(Case.disposed_at.is_(None))
        .order_by(Evidence.id)
    )
    return [(reference, item, name, digest) for reference, item, name, digest in rows]
