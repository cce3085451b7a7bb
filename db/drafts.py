"""Report drafts: a checked report waiting for its sender to check the answers and send it.

Only a hash of each draft's token is kept. A draft is read as a `Draft` value, not a row, so
the routes and services that pass it around hold no session. Its files' bytes are in the
quarantine store (services/drafts.py); these rows say which they are.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from core.enums import IncidentType
from core.tokens import new_token, token_hash
from db.models import ReportDraft, utcnow


@dataclass(frozen=True)
class DraftFile:
    """One attached file waiting in quarantine."""

    stored_name: str
    sha256: str
    size: int
    filename: str
    content_type: str


@dataclass(frozen=True)
class Draft:
    id: int
    person_id: int
    school_id: int
    incident_type: IncidentType
    answers: dict[str, Any]
    files: tuple[DraftFile, ...]
    evidence_source: str
    created_at: datetime
    claimed_at: datetime | None
    case_id: int | None  # set once it is sent: the row is then only a receipt


def _value(row: ReportDraft) -> Draft:
    return Draft(
        id=row.id,
        person_id=row.person_id,
        school_id=row.school_id,
        incident_type=row.incident_type,
        answers=dict(row.answers or {}),
        files=tuple(DraftFile(**f) for f in row.files or []),
        evidence_source=row.evidence_source,
        created_at=row.created_at,
        claimed_at=row.claimed_at,
        case_id=row.case_id,
    )


def add_draft(
    session: Session,
    *,
    person_id: int,
    school_id: int,
    incident_type: IncidentType,
    answers: dict[str, Any],
    files: list[DraftFile],
    source: str,
) -> str:
    """Keep a new draft; returns its raw token (the database keeps only the hash)."""
    raw = new_token()
    session.add(
        ReportDraft(
            token_hash=token_hash(raw),
            person_id=person_id,
            school_id=school_id,
            incident_type=incident_type,
            answers=answers,
            files=[asdict(f) for f in files],
            evidence_source=source,
            created_at=utcnow(),
        )
    )
    session.flush()
    return raw


def find_draft(session: Session, raw: str) -> Draft | None:
    """The draft whose token is `raw`, whoever it belongs to (the caller checks)."""
    row = session.scalars(
        select(ReportDraft).where(ReportDraft.token_hash == token_hash(raw))
    ).first()
    return None if row is None else _value(row)


def replace_answers(
    session: Session, draft_id: int, answers: dict[str, Any], files: list[DraftFile], source: str
) -> bool:
    """Give an unsent, unclaimed draft new answers and files; False if it is past changing."""
    changed = session.execute(
        update(ReportDraft)
        .where(
            ReportDraft.id == draft_id,
            ReportDraft.case_id.is_(None),
            ReportDraft.claimed_at.is_(None),
        )
        .values(answers=answers, files=[asdict(f) for f in files], evidence_source=source)
    )
    return bool(getattr(changed, "rowcount", 0))


def claim_draft(
    session: Session, draft_id: int, *, made_after: datetime, stale_before: datetime
) -> bool:
    """Mark the draft as being sent, unless it is sent, too old, or another request is
    sending it (one that claimed it before `stale_before` died and is not waited for)."""
    claimed = session.execute(
        update(ReportDraft)
        .where(
            ReportDraft.id == draft_id,
            ReportDraft.case_id.is_(None),
            ReportDraft.created_at > made_after,
            or_(ReportDraft.claimed_at.is_(None), ReportDraft.claimed_at < stale_before),
        )
        .values(claimed_at=utcnow())
    )
    return bool(getattr(claimed, "rowcount", 0))


def release_draft(session: Session, draft_id: int) -> None:
    """Let the draft be sent again: the request that claimed it failed."""
    session.execute(
        update(ReportDraft)
        .where(ReportDraft.id == draft_id, ReportDraft.case_id.is_(None))
        .values(claimed_at=None)
    )


def mark_sent(session: Session, draft_id: int, case_id: int) -> None:
    """The draft became `case_id`: keep only the receipt, not the answers or the files."""
    session.execute(
        update(ReportDraft)
        .where(ReportDraft.id == draft_id)
        .values(case_id=case_id, answers={}, files=[], evidence_source="")
    )


def case_of_draft(session: Session, draft_id: int) -> int | None:
    """The case a draft became, once it has."""
    return session.scalar(select(ReportDraft.case_id).where(ReportDraft.id == draft_id))


def remove_drafts(
    session: Session, *, made_before: datetime, claimed_before: datetime
) -> list[Draft]:
    """Delete the drafts made before `made_before` that no request is sending now (none
    claimed since `claimed_before`); returns them, for their files to be erased."""
    rows = session.scalars(
        select(ReportDraft).where(
            ReportDraft.created_at < made_before,
            or_(ReportDraft.claimed_at.is_(None), ReportDraft.claimed_at < claimed_before),
        )
    ).all()
    gone = [_value(row) for row in rows]
    if gone:
        session.execute(delete(ReportDraft).where(ReportDraft.id.in_([d.id for d in gone])))
    return gone


def remove_draft(session: Session, draft_id: int) -> None:
    session.execute(delete(ReportDraft).where(ReportDraft.id == draft_id))
