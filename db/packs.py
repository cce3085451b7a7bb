"""Case packs as they were produced: one row per pack, naming its stored HTML and PDF."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from core.enums import AuditKind
from core.files import StoredFile
from db.audit import record_event
from db.models import Case, CasePack

log = logging.getLogger("casework.packs")
UNDO = "casework_undo_on_rollback"


def save_pack(
    session: Session,
    case_id: int,
    kind: str,
    files: tuple[StoredFile, StoredFile],
    produced_at: datetime,
) -> CasePack:
    """Record a produced pack (its stored HTML and PDF) and say so in the trail, with the
    PDF's SHA-256 and size so an auditor can check the stored file against the event."""
    html, pdf = files
    row = CasePack(
        case_id=case_id,
        kind=kind,
        html_name=html.stored_name,
        html_sha256=html.sha256,
        html_size=html.size,
        pdf_name=pdf.stored_name,
        pdf_sha256=pdf.sha256,
        pdf_size=pdf.size,
        produced_at=produced_at,
    )
    session.add(row)
    session.flush()
    record_event(
        session,
        case_id=case_id,
        kind=AuditKind.PACK_PRODUCED,
        data={
            "pack": kind,
            "pack_id": row.id,
            "sha256": pdf.sha256,
            "bytes": pdf.size,
            "html_sha256": html.sha256,
            "html_bytes": html.size,
        },
    )
    return row


def packs_of(session: Session, case_id: int, kind: str | None = None) -> list[CasePack]:
    """The case's packs (of one kind, if given), oldest first."""
    query = select(CasePack).where(CasePack.case_id == case_id)
    if kind is not None:
        query = query.where(CasePack.kind == kind)
    return list(session.scalars(query.order_by(CasePack.id)))


def pack_file_names(session: Session, case_id: int) -> list[str]:
    """The stored names of every file of the case's packs, HTML and PDF."""
    return [name for row in packs_of(session, case_id) for name in (row.html_name, row.pdf_name)]


def kept_pack_files(session: Session) -> list[tuple[str, str, str, str]]:
    """Every pack file that should still be on disk (its case not disposed of): the case's
    reference, what the file is ("HR pack 3, PDF"), its stored name and its SHA-256."""
    rows = session.execute(
        select(Case.reference, CasePack)
        .join(Case, Case.id == CasePack.case_id)
        .where(Case.disposed_at.is_(None))
        .order_by(CasePack.id)
    )
    kept = []
    for reference, pack in rows:
        what = f"{pack.kind.upper() if pack.kind == 'hr' else pack.kind} pack {pack.id}"
        kept.append((reference, f"{what}, HTML", pack.html_name, pack.html_sha256))
        kept.append((reference, f"{what}, PDF", pack.pdf_name, pack.pdf_sha256))
    return kept


def erase_packs(session: Session, case_id: int) -> list[str]:
    """Disposal: the stored names of the case's pack files, to remove once this commits.

    The rows stay: they hold no personal content, only which files there were and their
    SHA-256s, which the trail's pack.produced events refer to."""
    return pack_file_names(session, case_id)


def undo_on_rollback(session: Session, undo: Callable[[], None]) -> None:
    """Run `undo` if the session's transaction rolls back, and forget it once it commits.

    Files are written before the rows that name them; a file whose row never commits would
    hold personal content that no disposal could find."""
    session.info.setdefault(UNDO, []).append(undo)


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    session.info.pop(UNDO, None)


@event.listens_for(Session, "after_rollback")
def _rolled_back(session: Session) -> None:
    for undo in session.info.pop(UNDO, []):
        try:
            undo()
        except OSError as exc:  # the rollback itself must go on; the file is reported
            log.error("a file written for a transaction that rolled back stays: %s", exc)
