"""How the letter to all parents is going, in plain words: for the case page, the page the
head sees after approving it, and the JSON those pages poll while letters are still going.

The figures come from `db.letters.letter_counts`; this module only words them. The page's
script (`api/static/letter-progress.js`) shows the words it is sent, so the server is the
one place that says them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.enums import StepKey
from core.templating import local_time
from db.letters import LetterCounts, letter_counts
from db.session import Session, reading

# What a page can be told about the letter, from nothing yet to every copy settled.
NONE, PREPARING, QUEUED, SENDING, DONE = "none", "preparing", "queued", "sending", "done"
STILL_GOING = frozenset({PREPARING, QUEUED, SENDING})


@dataclass(frozen=True)
class LetterProgress:
    """The letter's progress: its state, one headline, a few sentences, and the figures."""

    state: str
    headline: str
    details: list[str] = field(default_factory=list)
    total: int = 0  # emails queued, whatever became of them
    sent: int = 0
    waiting: int = 0
    failed: int = 0
    cancelled: int = 0
    by_post: int = 0
    printed: int = 0
    finished_at: datetime | None = None

    @property
    def going(self) -> bool:
        """Whether the figures may still change by themselves (a page keeps polling)."""
        return self.state in STILL_GOING

    def as_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "going": self.going,
            "headline": self.headline,
            "details": self.details,
            "total": self.total,
            "sent": self.sent,
            "waiting": self.waiting,
            "failed": self.failed,
            "cancelled": self.cancelled,
            "by_post": self.by_post,
            "printed": self.printed,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
        }


def number(n: int) -> str:
    return f"{n:,}"


def letters(n: int) -> str:
    return f"{number(n)} letter{'' if n == 1 else 's'}"


def state_of(counts: LetterCounts) -> str:
    """Where the letter is: being prepared, nothing at all, queued, sending or done."""
    if counts.preparing:
        return PREPARING
    if not counts.emails and not counts.by_post:
        return NONE
    if counts.waiting == 0:
        return DONE
    if counts.sent or counts.failed or counts.sending:
        return SENDING
    return QUEUED


def headline(state: str, counts: LetterCounts) -> str:
    """The one line that says where the letter is."""
    total, sent = number(counts.emails), number(counts.sent)
    failed = f", {number(counts.failed)} failed" if counts.failed else ""
    if state == PREPARING:
        return "Preparing the letters…"
    if state == NONE:
        return "No letter has gone to parents for this case."
    if state == QUEUED:
        return f"Queued: 0 of {total} sent"
    if state == SENDING:
        return f"Sending: {sent} of {total} sent{failed}"
    return finished(counts)


def finished(counts: LetterCounts) -> str:
    """The headline once no email is waiting."""
    if not counts.emails and counts.by_post == 1:
        return "The letter goes by post: none by email."
    if not counts.emails:
        return f"All {letters(counts.by_post)} go by post: none by email."
    when = local_time(counts.last_sent_at)
    if counts.sent == counts.emails and counts.emails == 1:
        return f"The letter was sent on {when}"
    if counts.sent == counts.emails:
        return f"All {number(counts.sent)} sent on {when}"
    failed = f", {number(counts.failed)} failed" if counts.failed else ""
    last = f" (the last on {when})" if counts.sent else ""
    return f"Finished: {number(counts.sent)} of {number(counts.emails)} sent{last}{failed}"


def details(counts: LetterCounts) -> list[str]:
    """What else a reader needs to know: failures, letters on paper, copies stopped."""
    said = []
    if counts.failed:
        they = "it" if counts.failed == 1 else "them"
        said.append(
            f"{letters(counts.failed)} could not be delivered by email: the parents' mail "
            f"servers refused {they}, so those families have not had the letter. The table "
            "“Emails not delivered” on the case page gives each server's answer; send those "
            "families a printed copy instead."
        )
    if counts.cancelled:
        were = "was" if counts.cancelled == 1 else "were"
        said.append(
            f"{letters(counts.cancelled)} {were} not sent because the case was withdrawn first."
        )
    if counts.by_post:
        said.append(
            f"{letters(counts.by_post)} go by post to parents who asked for paper or have no "
            f"email address: {number(counts.printed)} printed so far."
        )
    return said


def progress_of(counts: LetterCounts) -> LetterProgress:
    """The figures in words."""
    state = state_of(counts)
    return LetterProgress(
        state=state,
        headline=headline(state, counts),
        details=details(counts) if state != PREPARING else [],
        total=counts.emails,
        sent=counts.sent,
        waiting=counts.waiting,
        failed=counts.failed,
        cancelled=counts.cancelled,
        by_post=counts.by_post,
        printed=counts.printed,
        finished_at=counts.last_sent_at if state == DONE else None,
    )


def letter_progress(session: Session, case_id: int) -> LetterProgress:
    """How the case's letter to parents is going; the caller has checked who may know."""
    return progress_of(letter_counts(session, case_id))


def progress_after_answer(case_id: int, step_key: str) -> LetterProgress | None:
    """For the page shown after an answer: the letter's progress if the answer approved the
    letter to parents, else None (nothing to show)."""
    if step_key != StepKey.APPROVE_PARENT_LETTER:
        return None
    with reading() as session:
        progress = letter_progress(session, case_id)
    return progress if progress.state != NONE else None
