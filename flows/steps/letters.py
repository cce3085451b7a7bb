"""The letter to all parents: one rendering, then one email per parent or a printed page.

Parents who asked for post (or who have no email address) get the same letter with their
name and address on it, all in one print-ready PDF kept for the case. Before anything goes
out, the letter is checked for the names of the people in the case; a letter that names
one is refused, and the refusal is recorded on the case.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from prefect import task
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.files import StoredFile, letter_files
from core.pdf import Book, render_book
from core.templating import RenderedEmail, environment, local_date, render_email
from db.audit import record_event
from db.cases import finish_step, get_case, step_is_settled
from db.models import (
    Case,
    OutboxMessage,
    OutboxStatus,
    Person,
    PostalLetter,
    PrintFile,
    School,
    utcnow,
)
from db.outbox import queue_many
from db.people import headteacher, letter_recipients
from db.session import transaction
from flows.steps.context import STEP_OPTIONS, base_context

SEND_LETTER = "send_parent_letter"
LETTER_KIND = "parent_letter"


def letter_template(case: Case) -> str:
    return f"letters/{case.incident_type.value}/parent_letter"


def letter_context(session: Session, case: Case, date: datetime | None = None) -> dict[str, Any]:
    return {
        **base_context(session, case),
        "date": date or utcnow(),
        "signatory": headteacher(session, case.school_id),
    }


def render_parent_letter(
    session: Session, case: Case, *, date: datetime | None = None
) -> RenderedEmail:
    """The exact letter parents receive; the approval page shows this same rendering."""
    return render_email(letter_template(case), **letter_context(session, case, date))


def render_postal_letters(
    session: Session, case: Case, parents: list[Person], date: datetime
) -> list[str]:
    """The same letter as HTML for print, once per parent with their name and address."""
    template = environment().get_template(f"{letter_template(case)}.html.j2")
    context = letter_context(session, case, date)
    return [template.render(**context, recipient=parent) for parent in parents]


# --- The check that a letter names nobody from the case -------------------------------

HONORIFICS = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "sir", "dame"})
# Keys in `case.details` whose values are people's names or their online accounts.
NAME_KEY = re.compile(r"(?:^|_)names?$")
ACCOUNT_KEY = re.compile(r"(?:^|_)(?:account|accounts|handle|handles|username)$")
WORD = re.compile(r"[^\W\d_][\w'’-]*")


@dataclass(frozen=True)
class NamedPerson:
    """A name from the case, and how a refusal describes whose it is."""

    who: str
    name: str
    literal: bool = False  # an account name: matched as written, not word by word


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        if value.strip():
            yield value.strip()
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)


def _who_for_key(key: str) -> str:
    if key == "pupil_name":
        return "the pupil"
    if key == "pupil_account":
        return "the pupil's account"
    return f"a person recorded in the case ({key.replace('_', ' ')})"


def names_in_details(details: Any) -> Iterator[NamedPerson]:
    """Every person's name or account name recorded in `case.details`, however nested."""
    if isinstance(details, dict):
        for sub_key, value in details.items():
            if NAME_KEY.search(sub_key):
                who = _who_for_key(sub_key)
                yield from (NamedPerson(who, name) for name in _strings(value))
            elif ACCOUNT_KEY.search(sub_key):
                who = _who_for_key(sub_key)
                yield from (NamedPerson(who, name, literal=True) for name in _strings(value))
            else:
                yield from names_in_details(value)
    elif isinstance(details, list):
        for item in details:
            yield from names_in_details(item)


def people_in_case(session: Session, case: Case) -> list[NamedPerson]:
    """The pupil, the reporter, the case lead, the subject and anyone else in the details."""
    found = list(names_in_details(case.details or {}))
    staff = (
        ("the member of staff who reported it", case.reporter_id),
        ("the case lead", case.lead_id),
        ("the member of staff the case is about", case.subject_id),
    )
    for who, person_id in staff:
        person = session.get(Person, person_id) if person_id else None
        if person is not None:
            found.append(NamedPerson(who, person.name))
    return list(dict.fromkeys(found))


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def plain_text(markup: str) -> str:
    """What a reader sees of an HTML letter: no head, styles or tags."""
    markup = re.sub(r"(?is)<(head|style|script)\b.*?</\1>", " ", markup)
    return html.unescape(re.sub(r"(?s)<[^>]*>", " ", markup))


def mentions(text: str, person: NamedPerson) -> bool:
    """True if `text` has the full name, or any part of it written as a name."""
    if person.literal:
        handle = person.name.lstrip("@")
        if len(handle) < 3:
            return False
        return re.search(rf"(?<!\w){re.escape(handle)}(?!\w)", text, re.IGNORECASE) is not None
    words = WORD.findall(person.name)
    if not words:
        return False
    full = r"(?<!\w)" + r"\W+".join(map(re.escape, words)) + r"(?!\w)"
    if re.search(full, text, re.IGNORECASE):
        return True
    # Parts are matched only as names are written (capitalised), so "your child" is not
    # taken for a Mrs Child while "Jordan" on its own is still caught.
    for word in words:
        if len(word) < 2 or word.casefold() in HONORIFICS:
            continue
        for form in {word, word[0].upper() + word[1:], word.upper()}:
            if re.search(rf"(?<!\w){re.escape(form)}(?!\w)", text):
                return True
    return False


def fixed_wording(context: dict[str, Any]) -> list[str]:
    """Text every letter from the school carries whatever the case: letterhead and date."""
    school: School = context["school"]
    signatory: Person = context["signatory"]
    parts = [school.name, school.email, school.phone, local_date(context["date"])]
    parts += school.address.splitlines()
    parts.append(signatory.job_title or "Headteacher")
    return sorted({_squash(p) for p in parts if p and p.strip()}, key=len, reverse=True)


def _scrub(text: str, fixed: Iterable[str], signature: str | None) -> str:
    text = _squash(text)
    for phrase in fixed:
        text = re.sub(re.escape(phrase), " ", text, flags=re.IGNORECASE)
    if signature:
        # Only the signature itself: the headteacher named elsewhere still counts.
        at = text.rfind(signature)
        if at >= 0:
            text = text[:at] + " " + text[at + len(signature) :]
    return text


def named_in_letter(
    letter: RenderedEmail, people: Iterable[NamedPerson], context: dict[str, Any]
) -> list[NamedPerson]:
    """The people from the case whose names appear in the subject or the letter."""
    fixed = fixed_wording(context)
    signature = _squash(context["signatory"].name)
    texts = [
        _scrub(letter.subject, fixed, None),
        _scrub(letter.text, fixed, signature),
        _scrub(plain_text(letter.html), fixed, signature),
    ]
    return [p for p in people if any(mentions(t, p) for t in texts)]


def describe(found: list[NamedPerson]) -> str:
    whose = list(dict.fromkeys(p.who for p in found))
    if len(whose) == 1:
        return whose[0]
    return ", ".join(whose[:-1]) + " and " + whose[-1]


def letter_problems(
    session: Session, case: Case, letter: RenderedEmail, date: datetime
) -> list[str]:
    """Plain-English reasons the letter (rendered for `date`) must not go out."""
    context = letter_context(session, case, date)
    found = named_in_letter(letter, people_in_case(session, case), context)
    if not found:
        return []
    return [
        f"The letter contains the name of {describe(found)}. A letter to every parent must "
        "never name anyone involved in the case."
    ]


def letter_preview(session: Session, case: Case) -> dict[str, Any]:
    """What the headteacher sees before approving: the letter, who gets it, any warning."""
    date = utcnow()
    letter = render_parent_letter(session, case, date=date)
    recipients = letter_recipients(session, case.school_id)
    return {
        "letter": letter,
        "recipients": len(recipients.by_email),
        "by_post": len(recipients.by_post),
        "unreachable": len(recipients.unreachable),
        "problems": letter_problems(session, case, letter, date),
    }


# --- Sending ---------------------------------------------------------------------------


@dataclass
class LetterPlan:
    """Everything decided before sending, read in one transaction."""

    letter: RenderedEmail
    email_to: list[tuple[int, str]] = field(default_factory=list)  # (parent id, address)
    postal: list[tuple[int, str]] = field(default_factory=list)  # (parent id, HTML)
    unreachable: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.email_to) + len(self.postal)


def plan_letter(case_id: int) -> LetterPlan | None:
    """The letter and its recipients, or None if the step is already settled."""
    with transaction() as session:
        if step_is_settled(session, case_id, SEND_LETTER):
            return None
        case = get_case(session, case_id)
        date = utcnow()
        letter = render_parent_letter(session, case, date=date)
        problems = letter_problems(session, case, letter, date)
        if problems:
            return LetterPlan(letter, problems=problems)
        recipients = letter_recipients(session, case.school_id)
        by_post = recipients.by_post
        printed = render_postal_letters(session, case, by_post, date)
        return LetterPlan(
            letter,
            email_to=[(p.id, p.email or "") for p in recipients.by_email],
            postal=list(zip([p.id for p in by_post], printed, strict=True)),
            unreachable=len(recipients.unreachable),
        )


def refuse_letter(case_id: int, problems: list[str]) -> None:
    """Record why the letter was not sent, once, and settle the step so nothing loops."""
    message = (
        "Not sent: "
        + " ".join(problems)
        + " No parent was sent it. Ask whoever looks after Casework to correct the letter "
        "template."
    )
    with transaction() as session:
        if step_is_settled(session, case_id, SEND_LETTER):
            return
        record_event(session, case_id=case_id, kind="letter.refused", data={"reasons": problems})
        finish_step(session, case_id, SEND_LETTER, outcome=message, skipped=True)


def counted(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def send_outcome(plan: LetterPlan) -> str:
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


def save_print_file(
    session: Session, case_id: int, plan: LetterPlan, book: Book, stored: StoredFile
) -> PrintFile:
    row = PrintFile(
        case_id=case_id,
        kind=LETTER_KIND,
        stored_name=stored.stored_name,
        sha256=stored.sha256,
        size=stored.size,
        letters=len(plan.postal),
    )
    session.add(row)
    session.flush()
    session.add_all(
        PostalLetter(print_file_id=row.id, case_id=case_id, person_id=person_id, page=page)
        for (person_id, _), page in zip(plan.postal, book.first_pages, strict=True)
    )
    record_event(
        session,
        case_id=case_id,
        kind="letter.print_ready",
        data={
            "print_file_id": row.id,
            "letters": len(plan.postal),
            "pages": book.total_pages,
            "sha256": stored.sha256,
        },
    )
    return row


def commit_letter(
    case_id: int, plan: LetterPlan, printed: tuple[Book, StoredFile] | None
) -> int | None:
    """Queue the emails and record the print file; None if another run got there first."""
    with transaction() as session:
        if step_is_settled(session, case_id, SEND_LETTER):
            return None
        queue_many(
            session,
            email=plan.letter,
            kind=LETTER_KIND,
            case_id=case_id,
            recipients=[
                (f"letter:{case_id}:{parent_id}", address) for parent_id, address in plan.email_to
            ],
        )
        if printed is not None:
            save_print_file(session, case_id, plan, *printed)
        record_event(
            session,
            case_id=case_id,
            kind="letter.sent",
            data={
                "recipients": plan.total,
                "by_email": len(plan.email_to),
                "by_post": len(plan.postal),
                "unreachable": plan.unreachable,
                "subject": plan.letter.subject,
            },
        )
        finish_step(session, case_id, SEND_LETTER, outcome=send_outcome(plan))
        return plan.total


@task(name="send_parent_letter", **STEP_OPTIONS)
async def send_parent_letter(case_id: int) -> int:
    """Email every parent who reads email, print the rest; returns how many letters."""
    plan = plan_letter(case_id)
    if plan is None:
        return 0
    if plan.problems:
        refuse_letter(case_id, plan.problems)
        return 0
    # The PDF is made outside any transaction: SQLite writers would queue behind it.
    printed = None
    if plan.postal:
        book = render_book([markup for _, markup in plan.postal])
        printed = (book, letter_files().save(book.data))
    try:
        sent = commit_letter(case_id, plan, printed)
    except BaseException:
        if printed is not None:
            letter_files().discard([printed[1].stored_name])
        raise
    if sent is None:
        if printed is not None:
            letter_files().discard([printed[1].stored_name])
        return 0
    return sent


@task(name="skip_step", **STEP_OPTIONS)
async def skip_step(case_id: int, step_key: str, reason: str) -> None:
    with transaction() as session:
        if not step_is_settled(session, case_id, step_key):
            finish_step(session, case_id, step_key, outcome=reason, skipped=True)


# --- The delivery report on the case page ----------------------------------------------


@dataclass(frozen=True)
class PrintFileView:
    id: int
    letters: int
    created_at: datetime
    printed_at: datetime | None
    printed_by: str


@dataclass(frozen=True)
class LetterReport:
    """Where the letter to parents stands: emails sent, waiting, failed; letters printed."""

    sent: int = 0
    waiting: int = 0
    failed: int = 0
    by_post: int = 0
    printed: int = 0
    files: list[PrintFileView] = field(default_factory=list)

    @property
    def to_print(self) -> int:
        return self.by_post - self.printed

    @property
    def started(self) -> bool:
        return bool(self.sent or self.waiting or self.failed or self.files)


def letter_report(session: Session, case_id: int) -> LetterReport:
    rows = session.execute(
        select(OutboxMessage.status, func.count())
        .where(OutboxMessage.case_id == case_id, OutboxMessage.kind == LETTER_KIND)
        .group_by(OutboxMessage.status)
    ).all()
    emails = {status: n for status, n in rows}
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
    return LetterReport(
        sent=emails.get(OutboxStatus.SENT, 0),
        waiting=emails.get(OutboxStatus.PENDING, 0) + emails.get(OutboxStatus.SENDING, 0),
        failed=emails.get(OutboxStatus.FAILED, 0),
        by_post=sum(f.letters for f in files),
        printed=sum(f.letters for f in files if f.printed_at is not None),
        files=files,
    )


def print_file_of(session: Session, case_id: int, file_id: int) -> PrintFile | None:
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
        kind="letter.printed",
        actor=person,
        data={"print_file_id": row.id, "letters": row.letters},
    )
    return True
