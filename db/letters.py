"""Letters to all parents: the print files of postal letters, and where the letter stands."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case as when
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from core.enums import AuditKind, Decision, EmailKind, StepKey
from core.files import StoredFile
from db.approvals import LIVE
from db.audit import record_event
from db.models import (
    Approval,
    Case,
    CaseStatus,
    CaseStep,
    OutboxMessage,
    OutboxStatus,
    Person,
    PostalLetter,
    PrintFile,
    StepStatus,
    utcnow,
)


def save_print_file(
    session: Session,
    case_id: int,
    stored: StoredFile,
    pages: Sequence[tuple[int, int]],
    total_pages: int,
) -> PrintFile:
    """Record a stored PDF of postal letters: (parent id, first page) for each letter in it."""
    row = PrintFile(
        case_id=case_id,
        kind=EmailKind.PARENT_LETTER,
        stored_name=stored.stored_name,
        sha256=stored.sha256,
        size=stored.size,
        letters=len(pages),
    )
    session.add(row)
    session.flush()
    session.add_all(
        PostalLetter(print_file_id=row.id, case_id=case_id, person_id=person_id, page=page)
        for person_id, page in pages
    )
    record_event(
        session,
        case_id=case_id,
        kind=AuditKind.LETTER_PRINT_READY,
        data={
            "print_file_id": row.id,
            "letters": len(pages),
            "pages": total_pages,
            "sha256": stored.sha256,
        },
    )
    return row


def print_file_of(session: Session, case_id: int, file_id: int) -> PrintFile | None:
    """The print file, if it belongs to this case."""
    row = session.get(PrintFile, file_id)
    return row if row is not None and row.case_id == case_id else None


def mark_printed(session: Session, row: PrintFile, person: Person) -> bool:
    """Record that the office printed the file; False if it was recorded before."""
    if row.printed_at is not None:
        return False
    row.printed_at, row.printed_by_id = utcnow(), person.id
    record_event(
        session,
        case_id=row.case_id,
        kind=AuditKind.LETTER_PRINTED,
        actor=person,
        data={"print_file_id": row.id, "letters": row.letters},
    )
    return True


@dataclass(frozen=True)
class PrintFileView:
    id: int
    letters: int
    created_at: datetime
    printed_at: datetime | None
    printed_by: str


def print_files_of(session: Session, case_id: int) -> list[PrintFileView]:
    """The case's files of letters to print, oldest first, with who printed each."""
    files = []
    for row in session.scalars(
        select(PrintFile).where(PrintFile.case_id == case_id).order_by(PrintFile.id)
    ):
        printer = session.get(Person, row.printed_by_id) if row.printed_by_id else None
        files.append(
            PrintFileView(
                row.id, row.letters, row.created_at, row.printed_at, printer.name if printer else ""
            )
        )
    return files


def erase_print_files(session: Session, case_id: int) -> tuple[list[str], int]:
    """Disposal: forget which parent got which page by post, and return the stored names of
    the case's print files (removed once this commits) and how many letters they held."""
    files = list(session.scalars(select(PrintFile).where(PrintFile.case_id == case_id)))
    session.execute(delete(PostalLetter).where(PostalLetter.case_id == case_id))
    session.flush()
    return [row.stored_name for row in files], sum(row.letters for row in files)


@dataclass(frozen=True)
class LetterCounts:
    """The letter to parents in figures, for its progress: its emails by where they are in the
    outbox, its letters on paper, and whether it is approved but not queued yet."""

    sent: int = 0
    sending: int = 0
    pending: int = 0
    failed: int = 0
    cancelled: int = 0
    by_post: int = 0
    printed: int = 0
    last_sent_at: datetime | None = None
    preparing: bool = False  # approved, its case open, and nothing queued yet

    @property
    def emails(self) -> int:
        """Every email of the letter ever queued, whatever became of it."""
        return self.sent + self.sending + self.pending + self.failed + self.cancelled

    @property
    def waiting(self) -> int:
        return self.pending + self.sending


def letter_counts(session: Session, case_id: int) -> LetterCounts:
    """The letter's figures: a few aggregate queries, cheap enough for a page to poll."""
    emails = {
        status: (n, last)
        for status, n, last in session.execute(
            select(OutboxMessage.status, func.count(), func.max(OutboxMessage.sent_at))
            .where(OutboxMessage.case_id == case_id, OutboxMessage.kind == EmailKind.PARENT_LETTER)
            .group_by(OutboxMessage.status)
        )
    }
    by_post, printed = postal_counts(session, case_id)
    sent, last_sent_at = emails.get(OutboxStatus.SENT, (0, None))
    return LetterCounts(
        sent=sent,
        sending=emails.get(OutboxStatus.SENDING, (0, None))[0],
        pending=emails.get(OutboxStatus.PENDING, (0, None))[0],
        failed=emails.get(OutboxStatus.FAILED, (0, None))[0],
        cancelled=emails.get(OutboxStatus.CANCELLED, (0, None))[0],
        by_post=by_post,
        printed=printed,
        last_sent_at=last_sent_at,
        preparing=not emails and not by_post and approved_not_queued(session, case_id),
    )


def postal_counts(session: Session, case_id: int) -> tuple[int, int]:
    """How many of the case's letters go by post, and how many of those are printed."""
    printed = when((PrintFile.printed_at.is_not(None), PrintFile.letters), else_=0)
    by_post, done = session.execute(
        select(
            func.coalesce(func.sum(PrintFile.letters), 0), func.coalesce(func.sum(printed), 0)
        ).where(PrintFile.case_id == case_id)
    ).one()
    return int(by_post), int(done)


def approved_not_queued(session: Session, case_id: int) -> bool:
    """Whether the letter is approved, its case open and its sending step not yet settled:
    the moments between the head's answer and the run queueing the letters."""
    found = session.scalar(
        select(Approval.id)
        .join(Case, Case.id == Approval.case_id)
        .join(
            CaseStep,
            (CaseStep.case_id == Approval.case_id) & (CaseStep.key == StepKey.SEND_PARENT_LETTER),
        )
        .where(
            Approval.case_id == case_id,
            Approval.step_key == StepKey.APPROVE_PARENT_LETTER,
            Approval.decision == Decision.APPROVED,
            LIVE,
            Case.status == CaseStatus.OPEN,
            CaseStep.status.not_in((StepStatus.DONE, StepStatus.SKIPPED)),
        )
        .limit(1)
    )
    return found is not None
