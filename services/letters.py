"""The letter to all parents: one rendering, then one email per parent or a printed page.

Parents who asked for post (or who have no email address) get the same letter with their
name and address on it, all in one print-ready PDF kept for the case. A letter that names
anyone in the case is refused (see `services.letter_check`) and the refusal is recorded.

If the headteacher changed the wording when approving it (`services.letter_edit`), every
copy, emailed or printed, carries the approved words in the same letterhead and signature.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.enums import AuditKind, EmailKind, StepKey
from core.files import StoredFile
from core.pdf import Book
from core.templating import RenderedEmail, environment, render_email
from core.wording import Edit, digest, from_html, to_html, to_text
from db.audit import record_event
from db.cases import finish_step
from db.letters import save_print_file
from db.models import Case, Person, utcnow
from db.outbox import dedup_key, queue_many
from db.people import headteacher, letter_recipients
from db.session import Session
from services.letter_check import naming_problems
from services.letter_edit import approved_edit
from services.notices import base_context

EDITED = "letters/edited_parent_letter"  # the approver's own wording in the school's letter


def letter_template(case: Case) -> str:
    return f"letters/{case.incident_type.value}/parent_letter"


def letter_context(session: Session, case: Case, date: datetime | None = None) -> dict[str, Any]:
    return {
        **base_context(session, case),
        "date": date or utcnow(),
        "signatory": headteacher(session, case.school_id),
    }


def render_parent_letter(
    session: Session, case: Case, *, date: datetime | None = None, wording: str | None = None
) -> RenderedEmail:
    """The exact letter parents receive; the approval page shows this same rendering.

    `wording` is the approver's own wording of the body; None keeps the template's.
    """
    context = letter_context(session, case, date)
    letter = render_email(letter_template(case), **context)
    if wording is None:
        return letter
    return render_email(
        EDITED,
        **context,
        original_subject=letter.subject,
        body=to_html(wording),
        body_text=to_text(wording),
    )


def render_postal_letters(
    session: Session, case: Case, parents: list[Person], date: datetime, wording: str | None = None
) -> list[str]:
    """The same letter as HTML for print, once per parent with their name and address."""
    context = letter_context(session, case, date)
    if wording is None:
        template = environment().get_template(f"{letter_template(case)}.html.j2")
    else:
        template = environment().get_template(f"{EDITED}.html.j2")
        context["body"] = to_html(wording)
    return [template.render(**context, recipient=parent) for parent in parents]


def original_wording(session: Session, case: Case) -> str:
    """The template's letter body in the plain-text form the approver may edit."""
    template = environment().get_template(f"{letter_template(case)}.html.j2")
    body = template.blocks["letter"](template.new_context(letter_context(session, case)))
    return from_html("".join(body))


def letter_problems(
    session: Session, case: Case, letter: RenderedEmail, date: datetime
) -> list[str]:
    """Plain-English reasons the letter (rendered for `date`) must not go out."""
    return naming_problems(session, case, letter, letter_context(session, case, date))


def letter_preview(session: Session, case: Case, posted: str | None = None) -> dict[str, Any]:
    """What the headteacher sees before approving: the letter, who gets it, any warning.

    `posted` is the wording as the approver has just edited it, shown as it would be sent.
    """
    date = utcnow()
    original = original_wording(session, case)
    edit = Edit.between(original, posted)
    letter = render_parent_letter(session, case, date=date, wording=edit.edited if edit else None)
    recipients = letter_recipients(session, case.school_id)
    return {
        "letter": letter,
        "wording": original,
        "edit": edit,
        "recipients": len(recipients.by_email),
        "by_post": len(recipients.by_post),
        "unreachable": len(recipients.unreachable),
        "problems": letter_problems(session, case, letter, date),
    }


@dataclass
class LetterPlan:
    """Everything decided before sending, read in one transaction."""

    letter: RenderedEmail
    email_to: list[tuple[int, str]] = field(default_factory=list)  # (parent id, address)
    postal: list[tuple[int, str]] = field(default_factory=list)  # (parent id, HTML)
    unreachable: int = 0
    problems: list[str] = field(default_factory=list)
    wording_sha256: str = ""  # the digest of the approver's own wording, if they changed it

    @property
    def total(self) -> int:
        return len(self.email_to) + len(self.postal)


def plan_letter(session: Session, case: Case) -> LetterPlan:
    """The letter and its recipients, or the reasons it must not go out."""
    date = utcnow()
    edit = approved_edit(session, case.id)
    wording = edit.edited if edit else None
    letter = render_parent_letter(session, case, date=date, wording=wording)
    problems = letter_problems(session, case, letter, date)
    if problems:
        return LetterPlan(letter, problems=problems)
    recipients = letter_recipients(session, case.school_id)
    by_post = recipients.by_post
    printed = render_postal_letters(session, case, by_post, date, wording)
    return LetterPlan(
        letter,
        email_to=[(p.id, p.email or "") for p in recipients.by_email],
        postal=list(zip([p.id for p in by_post], printed, strict=True)),
        unreachable=len(recipients.unreachable),
        wording_sha256=digest(wording) if wording else "",
    )


def refuse_letter(session: Session, case_id: int, problems: list[str]) -> None:
    """Record why the letter was not sent and settle the step so nothing loops."""
    message = (
        "Not sent: "
        + " ".join(problems)
        + " No parent was sent it. Ask whoever looks after Casework to correct the letter "
        "template."
    )
    record_event(
        session, case_id=case_id, kind=AuditKind.LETTER_REFUSED, data={"reasons": problems}
    )
    finish_step(session, case_id, StepKey.SEND_PARENT_LETTER, outcome=message, skipped=True)


def counted(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def send_outcome(plan: LetterPlan) -> str:
    """The step's outcome in words: who gets the letter, and how."""
    emailed = counted(len(plan.email_to), "parent", "parents")
    parts = [f"letter queued to {emailed} by email, one message each"]
    if plan.postal:
        parts.append(
            f"{counted(len(plan.postal), 'printed letter', 'printed letters')} ready for the "
            "office to post (one PDF on the case page)"
        )
    if plan.unreachable:
        has = "has" if plan.unreachable == 1 else "have"
        parts.append(
            f"{counted(plan.unreachable, 'parent', 'parents')} {has} neither an email address "
            "nor a postal address, so no letter reaches them"
        )
    return "; ".join(parts)


def commit_letter(
    session: Session, case_id: int, plan: LetterPlan, printed: tuple[Book, StoredFile] | None
) -> int:
    """Queue the emails and record the print file, in the caller's transaction."""
    queue_many(
        session,
        email=plan.letter,
        kind=EmailKind.PARENT_LETTER,
        case_id=case_id,
        recipients=[
            (dedup_key(EmailKind.PARENT_LETTER, case_id, parent_id), address)
            for parent_id, address in plan.email_to
        ],
    )
    if printed is not None:
        book, stored = printed
        pages = [
            (person_id, page)
            for (person_id, _), page in zip(plan.postal, book.first_pages, strict=True)
        ]
        save_print_file(session, case_id, stored, pages, book.total_pages)
    record_event(
        session,
        case_id=case_id,
        kind=AuditKind.LETTER_SENT,
        data={
            "recipients": plan.total,
            "by_email": len(plan.email_to),
            "by_post": len(plan.postal),
            "unreachable": plan.unreachable,
            "subject": plan.letter.subject,
            **({"approved_wording_sha256": plan.wording_sha256} if plan.wording_sha256 else {}),
        },
    )
    finish_step(session, case_id, StepKey.SEND_PARENT_LETTER, outcome=send_outcome(plan))
    return plan.total
