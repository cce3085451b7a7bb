"""The governors' report: the dashboard's figures and charts as a PDF for a term or a range,
checked to name nobody before it is served, and emailed to the chair once each term ends.

The check is the letters' own (`services.letter_check.mentions`), looking for every name
Casework holds for the school (staff, governors, parents and carers), every name the reports
in the range record and every account they name. It reads only the words the figures put
into the report: the report's fixed wording is found by drawing the same report with every
figure and label blanked out, and is left aside, as a letter's letterhead is.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import date, datetime

from core.charts import Bar
from core.enums import AuditKind, EmailKind, Role
from core.pdf import render_pdf
from core.settings import get_settings
from core.templating import RenderedEmail, local_date, render, render_email
from core.terms import DateRange, Term, previous_term, term_of
from db.audit import record_event
from db.dashboard import Figures, Scope, accounts_named, case_details, people_names
from db.models import Person, School
from db.outbox import dedup_key, is_queued, queue_email
from db.people import holder_of
from db.schools import all_schools
from db.session import Session
from services.dashboard import Breakdown, Dashboard, dashboard
from services.letter_check import NamedPerson, describe, mentions, names_in_details

log = logging.getLogger("casework.governors_report")
TEMPLATE = "reports/governors_report.html.j2"
EMAIL = "emails/governors_report"
# Runs of letters: "Jordan's" holds "Jordan", so the quick look never misses a name.
LETTERS = re.compile(r"[^\W\d_]+")


class ReportRefused(Exception):
    """The report would name someone: it is neither served nor sent."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(" ".join(problems))
        self.problems = problems


def range_label(days: DateRange) -> str:
    return f"{local_date_of(days.first)} to {local_date_of(days.last)}"


def local_date_of(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


# --- The privacy check -----------------------------------------------------------------


def names_to_avoid(session: Session, scope: Scope) -> list[NamedPerson]:
    """Everyone the report must not name: the school's people, then whoever and whatever
    account the reports in the range name."""
    people = people_names(session, scope.school_id)
    found = [NamedPerson(_whose(role), name) for name, role in people]
    for details in case_details(session, scope):
        found.extend(names_in_details(details))
    found.extend(
        NamedPerson("an account a report names", handle, literal=True)
        for handle in accounts_named(session, scope)
    )
    return list(dict.fromkeys(found))


def _whose(role: Role) -> str:
    if role == Role.PARENT:
        return "a parent or carer"
    if role in (Role.CHAIR, Role.GOVERNOR):
        return "a governor"
    return "a member of staff"


def _segments(markup: str) -> list[str]:
    """The pieces of text a reader sees, one per element (tags, styles and head dropped)."""
    markup = re.sub(r"(?is)<(head|style|script)\b.*?</\1>", " ", markup)
    pieces = (html.unescape(p) for p in re.split(r"<[^>]*>", markup))
    return [squashed for p in pieces if (squashed := " ".join(p.split()))]


def variable_text(text: str, blank: str, fixed: Iterable[str], markup: bool = True) -> str:
    """What the figures wrote into `text`: the pieces the blank report does not have, with
    the fixed phrases (months, dates) taken out."""
    split = _segments if markup else (lambda t: [" ".join(line.split()) for line in t.splitlines()])
    known = set(split(blank))
    left = " \n ".join(piece for piece in split(text) if piece and piece not in known)
    for phrase in sorted(set(fixed), key=len, reverse=True):
        left = re.sub(re.escape(phrase), " ", left, flags=re.IGNORECASE)
    return left


def named_in(texts: list[str], people: Iterable[NamedPerson]) -> list[NamedPerson]:
    """The people whose names appear in any of `texts`: only names sharing a word with the
    texts are matched in full, so thousands of parents cost one set lookup each."""
    words = {w.casefold() for t in texts for w in LETTERS.findall(t)}
    joined = " ".join(texts).casefold()
    found = []
    for person in people:
        if person.literal:
            if person.name.lstrip("@").casefold() not in joined:
                continue
        elif not any(w.casefold() in words for w in LETTERS.findall(person.name)):
            continue
        if any(mentions(t, person) for t in texts):
            found.append(person)
    return found


def problems_in(texts: list[str], people: Iterable[NamedPerson]) -> list[str]:
    found = named_in(texts, people)
    if not found:
        return []
    return [
        f"The report contains the name of {describe(found)}. A report for governors gives "
        "figures only and must never name a pupil, a parent or a member of staff."
    ]


# --- The report ----------------------------------------------------------------------------


def blanked(board: Dashboard) -> Dashboard:
    """The same report with no figures and no labels: only its fixed wording is left."""
    zero = Figures(
        by_type={},
        by_status={},
        by_month=[0] * len(board.figures.by_month),
        by_platform={},
        by_outcome={},
        closed=0,
        median_close_seconds=None,
        longest_close_seconds=None,
        waiting_requests=0,
        overdue_requests=0,
        police_referrals=0,
        hr_escalations=0,
        letter_cases=0,
        letters_by_email=0,
        letters_by_post=0,
    )
    emptied = [
        Breakdown(b.key, b.title, b.column, [Bar("", 0) for _ in b.rows]) for b in board.breakdowns
    ]
    return replace(board, figures=zero, breakdowns=emptied)


def fixed_phrases(board: Dashboard) -> list[str]:
    """Dates the report writes whatever it counts: each month and the range's first and last
    day (a parent called May or June is not named by "May 2026")."""
    months = [m.strftime("%B %Y") for m in board.days.months()]
    ends = [local_date_of(board.days.first), local_date_of(board.days.last)]
    return [*months, *ends, board.period_label, board.school_name]


def report_html(board: Dashboard) -> str:
    return render(TEMPLATE, board=board, made=local_date(board.made_at))


def checked_report(session: Session, board: Dashboard, scope: Scope) -> str:
    """The report's HTML, once the check has found nobody named in it."""
    markup = report_html(board)
    text = variable_text(markup, report_html(blanked(board)), fixed_phrases(board))
    problems = problems_in([text], names_to_avoid(session, scope))
    if problems:
        raise ReportRefused(problems)
    return markup


def report_pdf(session: Session, board: Dashboard, scope: Scope) -> bytes:
    """The report as a PDF; ReportRefused if it would name anyone."""
    return render_pdf(checked_report(session, board, scope))


def report_for(
    session: Session, school_id: int, days: DateRange, label: str, viewer_id: int | None
) -> tuple[Dashboard, Scope]:
    """The figures of a report and the cases they count (to check its names against)."""
    board = dashboard(session, school_id, days, label, viewer_id=viewer_id)
    return board, Scope(school_id, days.start, days.end, hidden_subject=viewer_id)


# --- The chair's email at the end of each term --------------------------------------------


def report_link(term: Term) -> str:
    return f"{get_settings().base_url}/dashboard/report.pdf?term={term.key}"


def chair_email(board: Dashboard, school: School, term: Term) -> RenderedEmail:
    return render_email(EMAIL, board=board, school=school, term=term, link=report_link(term))


def checked_email(session: Session, board: Dashboard, school: School, term: Term) -> RenderedEmail:
    """The chair's email, once neither it nor the report it links to names anyone."""
    scope = Scope(school.id, term.days.start, term.days.end)
    email = chair_email(board, school, term)
    blank = chair_email(blanked(board), school, term)
    fixed = fixed_phrases(board)
    texts = [
        variable_text(email.subject, blank.subject, fixed, markup=False),
        variable_text(email.text, blank.text, fixed, markup=False),
        variable_text(email.html, blank.html, fixed),
    ]
    problems = problems_in(texts, names_to_avoid(session, scope))
    if problems:
        raise ReportRefused(problems)
    checked_report(session, board, scope)
    return email


def report_key(school_id: int, term: Term) -> str:
    return dedup_key(EmailKind.GOVERNORS_REPORT, school_id, term.key)


def term_to_send(school: School, today: date) -> Term | None:
    """The last term that has ended, if the school was in Casework before it ended."""
    starts = get_settings().terms
    ended = previous_term(term_of(today, starts), starts)
    return ended if school.created_at < ended.days.end else None


def email_chair(session: Session, school: School, term: Term, now: datetime) -> bool:
    """Queue the term's report email to the chair, once; False if there is nobody to send it
    to, or it went already."""
    key = report_key(school.id, term)
    if is_queued(session, key):
        return False
    chair = holder_of(session, school.id, Role.CHAIR)
    if chair is None or not chair.email:
        return False
    board = dashboard(session, school.id, term.days, term.label, now=now)
    email = checked_email(session, board, school, term)
    queue_email(session, dedup_key=key, to=chair, email=email, kind=EmailKind.GOVERNORS_REPORT)
    record_event(
        session,
        case_id=None,
        kind=AuditKind.GOVERNORS_REPORT_EMAILED,
        data=_sent_to(chair, school, term, board),
        school_id=school.id,
    )
    return True


def _sent_to(chair: Person, school: School, term: Term, board: Dashboard) -> dict[str, object]:
    return {
        "school_id": school.id,
        "term": term.key,
        "to": f"{chair.name} ({chair.role.value})",
        "cases": board.total,
    }


def schools_due(session: Session, today: date) -> Iterator[tuple[School, Term]]:
    """Each school whose last ended term's report has not been queued yet."""
    for school in all_schools(session):
        term = term_to_send(school, today)
        if term is not None and not is_queued(session, report_key(school.id, term)):
            yield school, term
