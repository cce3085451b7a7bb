"""The letter to parents in figures (db.letters.letter_counts), on SQLite and PostgreSQL:
from approved-but-not-queued, through queued and sending, to every copy settled."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select, update

from core.enums import Decision, EmailKind, StepKey
from core.files import StoredFile
from core.settings import Settings
from core.templating import RenderedEmail
from db.approvals import by_token, claim_decision
from db.cases import finish_step
from db.letters import LetterCounts, letter_counts, mark_printed, save_print_file
from db.models import (
    Case,
    CaseStatus,
    OutboxMessage,
    OutboxStatus,
    Person,
    PrintFile,
    Role,
    utcnow,
)
from db.outbox import cancel_unsent, queue_email, queue_many
from db.session import reading, transaction
from tests.support import make_approval, make_case

LETTER = RenderedEmail("A letter to every family", "Dear parent or carer.", "<p>Dear parent.</p>")


def approve_letter(url: str, case_id: int) -> None:
    """The head has approved the letter to parents; the run has not queued it yet."""
    token = make_approval(url, case_id)
    with transaction(url) as session:
        approval = by_token(session, token)
        assert approval is not None
        assert claim_decision(
            session,
            approval.id,
            decision=Decision.APPROVED,
            reason="",
            response={},
            ip="",
            user_agent="",
        )


def queue_letters(url: str, case_id: int, n: int) -> None:
    """`n` emails of the letter in the outbox, as the send step leaves them."""
    with transaction(url) as session:
        queue_many(
            session,
            email=LETTER,
            kind=EmailKind.PARENT_LETTER,
            case_id=case_id,
            recipients=[(f"letter:{case_id}:{i}", f"family{i}@families.example") for i in range(n)],
        )


def mark(url: str, case_id: int, status: OutboxStatus, n: int, minutes_ago: int = 0) -> None:
    """The next `n` letters still pending, moved on as the sender would move them."""
    with transaction(url) as session:
        ids = list(
            session.scalars(
                select(OutboxMessage.id)
                .where(
                    OutboxMessage.case_id == case_id,
                    OutboxMessage.kind == EmailKind.PARENT_LETTER,
                    OutboxMessage.status == OutboxStatus.PENDING,
                )
                .order_by(OutboxMessage.id)
                .limit(n)
            )
        )
        sent_at = utcnow() - timedelta(minutes=minutes_ago) if status == OutboxStatus.SENT else None
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids))
            .values(status=status, sent_at=sent_at)
        )


def counts(url: str, case_id: int) -> LetterCounts:
    with reading(url) as session:
        return letter_counts(session, case_id)


def print_file(url: str, case_id: int, letters: int) -> int:
    """A PDF of `letters` postal letters kept for the case; returns its id."""
    with transaction(url) as session:
        parents = session.scalars(
            select(Person.id).where(Person.role == Role.PARENT).order_by(Person.id).limit(letters)
        ).all()
        row = save_print_file(
            session,
            case_id,
            StoredFile(f"letters-{case_id}-{uuid.uuid4().hex}.pdf", "0" * 64, 100),
            [(parent, page) for page, parent in enumerate(parents, 1)],
            len(parents),
        )
        return row.id


def test_the_figures_follow_the_letter_from_approval_to_every_copy_settled(
    configured: Settings,
) -> None:
    url = configured.database_url
    case_id = make_case(url)
    assert counts(url, case_id) == LetterCounts(), "nothing approved, nothing queued"

    approve_letter(url, case_id)
    assert counts(url, case_id) == LetterCounts(preparing=True)

    queue_letters(url, case_id, 10)
    assert counts(url, case_id) == LetterCounts(pending=10)

    mark(url, case_id, OutboxStatus.SENT, 3, minutes_ago=5)
    mark(url, case_id, OutboxStatus.SENT, 2, minutes_ago=1)
    mark(url, case_id, OutboxStatus.SENDING, 2)
    mark(url, case_id, OutboxStatus.FAILED, 1)
    now = counts(url, case_id)
    assert (now.sent, now.sending, now.pending, now.failed) == (5, 2, 2, 1)
    assert (now.emails, now.waiting) == (10, 4)
    assert now.last_sent_at is not None and now.last_sent_at.tzinfo is not None
    assert utcnow() - timedelta(minutes=2) < now.last_sent_at < utcnow(), "the newest sent"
    assert not now.preparing


def test_letters_on_paper_are_counted_and_printed_ones_apart(configured: Settings) -> None:
    url = configured.database_url
    case_id = make_case(url)
    approve_letter(url, case_id)
    first = print_file(url, case_id, 3)
    print_file(url, case_id, 2)
    assert counts(url, case_id) == LetterCounts(by_post=5), "queued on paper: not preparing"

    with transaction(url) as session:
        head = session.scalars(select(Person).where(Person.role == Role.HEADTEACHER)).first()
        row = session.get(PrintFile, first)
        assert head is not None and row is not None
        mark_printed(session, row, head)
    assert counts(url, case_id) == LetterCounts(by_post=5, printed=3)


def test_only_the_letter_to_parents_of_this_case_counts(configured: Settings) -> None:
    url = configured.database_url
    case_id, other = make_case(url), make_case(url)
    queue_letters(url, case_id, 4)
    queue_letters(url, other, 7)
    with transaction(url) as session:
        queue_email(
            session,
            dedup_key=f"notice:{case_id}",
            to="head@oakfield.example",
            email=LETTER,
            kind=EmailKind.CASE_OPENED,
            case_id=case_id,
            audit=False,
        )
    assert counts(url, case_id) == LetterCounts(pending=4)


def test_a_letter_stopped_by_withdrawal_is_counted_as_cancelled(configured: Settings) -> None:
    url = configured.database_url
    case_id = make_case(url)
    approve_letter(url, case_id)
    queue_letters(url, case_id, 6)
    mark(url, case_id, OutboxStatus.SENT, 2)
    with transaction(url) as session:
        assert cancel_unsent(session, case_id) == 4
    assert counts(url, case_id).cancelled == 4 and counts(url, case_id).waiting == 0


def test_nothing_is_being_prepared_once_the_step_settled_or_the_case_closed(
    configured: Settings,
) -> None:
    url = configured.database_url
    refused, withdrawn, rejected = make_case(url), make_case(url), make_case(url)
    for case_id in (refused, withdrawn):
        approve_letter(url, case_id)
    with transaction(url) as session:
        # The letter check refused it: the step is skipped and nothing was queued.
        finish_step(session, refused, StepKey.SEND_PARENT_LETTER, outcome="Not sent", skipped=True)
        case = session.get(Case, withdrawn)
        assert case is not None
        case.status = CaseStatus.WITHDRAWN
    token = make_approval(url, rejected)
    with transaction(url) as session:
        approval = by_token(session, token)
        assert approval is not None
        claim_decision(
            session,
            approval.id,
            decision=Decision.REJECTED,
            reason="Not now.",
            response={},
            ip="",
            user_agent="",
        )
    for case_id in (refused, withdrawn, rejected):
        assert counts(url, case_id) == LetterCounts(), case_id
