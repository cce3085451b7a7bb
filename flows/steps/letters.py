"""The letter to all parents as a procedure's last decision, and sending it."""

from __future__ import annotations

from prefect import task

from core.enums import StepKey
from core.files import StoredFile, letter_files
from core.pdf import Book, render_book
from db.cases import get_case, step_is_settled
from db.session import transaction
from flows.steps.base import STEP_OPTIONS, skip_step, step_outcome
from flows.steps.waiting import wait_for_person
from services.letters import LetterPlan, commit_letter, plan_letter, refuse_letter


def plan(case_id: int) -> LetterPlan | None:
    """The letter and its recipients, or None if the step is already settled."""
    with transaction() as session:
        if step_is_settled(session, case_id, StepKey.SEND_PARENT_LETTER):
            return None
        return plan_letter(session, get_case(session, case_id))


def refuse(case_id: int, problems: list[str]) -> None:
    with transaction() as session:
        if not step_is_settled(session, case_id, StepKey.SEND_PARENT_LETTER):
            refuse_letter(session, case_id, problems)


def commit(case_id: int, letter: LetterPlan, printed: tuple[Book, StoredFile] | None) -> int | None:
    """Queue the emails and record the print file; None if another run got there first."""
    with transaction() as session:
        if step_is_settled(session, case_id, StepKey.SEND_PARENT_LETTER):
            return None
        return commit_letter(session, case_id, letter, printed)


@task(name=StepKey.SEND_PARENT_LETTER, **STEP_OPTIONS)
async def send_parent_letter(case_id: int) -> int:
    """Email every parent who reads email, print the rest; returns how many letters."""
    letter = plan(case_id)
    if letter is None:
        return 0
    if letter.problems:
        refuse(case_id, letter.problems)
        return 0
    # The PDF is made outside any transaction: SQLite writers would queue behind it.
    printed = None
    if letter.postal:
        book = render_book([markup for _, markup in letter.postal])
        printed = (book, letter_files().save(book.data))
    try:
        sent = commit(case_id, letter, printed)
    except BaseException:
        if printed is not None:
            letter_files().discard([printed[1].stored_name])
        raise
    if sent is None and printed is not None:
        letter_files().discard([printed[1].stored_name])
    return sent or 0


async def parent_letter(case_id: int, if_not_sent: str) -> str:
    """Carry out the headteacher's decision on the letter; returns what happened, in words."""
    decision = await wait_for_person(case_id, StepKey.APPROVE_PARENT_LETTER)
    if decision.approved:
        await send_parent_letter(case_id)
        outcome = await step_outcome(case_id, StepKey.SEND_PARENT_LETTER)
        return f"Letter to parents: {outcome}"
    reason = f"{if_not_sent}: {decision.reason}"
    await skip_step(case_id, StepKey.SEND_PARENT_LETTER, reason)
    return reason
