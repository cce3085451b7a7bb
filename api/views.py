"""Read models for pages: everything a page shows, read in one unit of work.

Each view is built from db/ queries and services, then detached from the session so the
template can render it after the transaction has closed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from api.errors import AppError
from api.handover_view import HandOverView, handover_view
from api.letter_progress import LetterProgress, letter_progress
from core.access import (
    SCHOOL_RIGHTS,
    Action,
    Actor,
    CaseFacts,
    may,
    may_download,
    sees_step_outcome,
)
from core.enums import AuditKind, StepKey
from core.procedures import procedure_for
from core.search import Snippet, Terms, snippet
from db.approvals import approvals_of
from db.audit import (
    data_of,
    events_of_kinds,
    latest_events,
    marked_in_error,
    procedure_stopped,
    record_event,
    stopped_among,
)
from db.cases import (
    CaseFilter,
    CaseNotFound,
    case_list_page,
    facts_of,
    get_case,
    notes_of,
    steps_of,
    waiting_steps,
)
from db.evidence import evidence_of
from db.letters import PrintFileView, print_files_of
from db.linked import Linked, linked_cases
from db.models import (
    Approval,
    AuditEvent,
    Case,
    CaseStatus,
    CaseStep,
    Evidence,
    OutboxStatus,
    Person,
)
from db.outbox import delivery_counts, undelivered
from db.people import find_person, get_person, inactive_among, names_of
from db.search import RANKED, search_cases
from db.session import Session
from forms.answers import answers_of, people_in
from services.history import HISTORY_KINDS, Line, history
from services.letter_edit import edit_in
from services.packs import Document, documents_of

UNDELIVERED_SHOWN = 50
# Every action that is about one case (the rest are about a school).
CASE_ACTIONS = tuple(a for a in Action if a not in SCHOOL_RIGHTS)
# A case's page shows its newest events; the exported audit trail has every one.
HISTORY_SHOWN = 200
# A disposed case: its tombstone may be seen, and its trail exported (the events are never
# changed, and an export must be checkable against the chain); nothing else is left to do.
AFTER_DISPOSAL = frozenset({Action.VIEW_CASE, Action.EXPORT_TRAIL})
ACCESS_SHOWN = 100


def case_with_facts(
    session: Session, actor: Actor, case_id: int, action: Action = Action.VIEW_CASE
) -> tuple[Case, CaseFacts]:
    """The case, and what the policy knows of it, if `actor` may do `action` on it:
    otherwise 404 (missing or hidden alike) or 403."""
    try:
        case = get_case(session, case_id)
    except CaseNotFound:
        raise AppError(404, "There is no case with that number that you can see.") from None
    facts = facts_of(session, case)
    if not may(actor, Action.VIEW_CASE, facts):
        raise AppError(404, "There is no case with that number that you can see.")
    if not may(actor, action, facts):
        raise AppError(403, f"You can see this case but you cannot {action.value}.")
    if case.disposed_at is not None and action not in AFTER_DISPOSAL:
        raise AppError(
            410,
            f"Case {case.reference} was disposed of at the end of its retention period: "
            "only its record that it existed is left, on the case page.",
            title="This case was disposed of",
        )
    return case, facts


def viewable_case(
    session: Session, actor: Actor, case_id: int, action: Action = Action.VIEW_CASE
) -> Case:
    """The case if `actor` may do `action` on it: 404 (missing or hidden alike) or 403."""
    return case_with_facts(session, actor, case_id, action)[0]


def log_access(session: Session, case: Case, actor: Actor, kind: AuditKind, **data: Any) -> None:
    """Record who read what: the case page, an evidence file, a pack, a print file."""
    record_event(
        session, case_id=case.id, kind=kind, actor=get_person(session, actor.id), data=data
    )


def log_school_view(session: Session, actor: Actor, school_id: int, view: str, **data: Any) -> None:
    """Record a look at the trail or the cases of a school (no one case): on its chain."""
    record_event(
        session,
        case_id=None,
        kind=AuditKind.AUDIT_VIEWED,
        actor=get_person(session, actor.id),
        data={"view": view, **data},
        school_id=school_id,
    )


@dataclass(frozen=True)
class Undelivered:
    """An email of the case the server refused, or is still deferring, with its answer."""

    to: str
    kind: str
    failed: bool  # False: still being retried
    answer: str
    attempts: int


def undelivered_of(session: Session, case_id: int, show_addresses: bool) -> list[Undelivered]:
    return [
        Undelivered(
            to=row.to_addr if show_addresses else "(address hidden)",
            kind=row.kind.replace("_", " "),
            failed=row.status == OutboxStatus.FAILED,
            answer=row.last_error,
            attempts=row.attempts,
        )
        for row in undelivered(session, case_id, UNDELIVERED_SHOWN)
    ]


@dataclass(frozen=True)
class Note:
    author: str
    at: datetime
    text: str


@dataclass(frozen=True)
class LetterChange:
    """The approver's change to the letter's wording, for those who see the case record."""

    by: str
    at: datetime | None
    original: str
    approved: str


def letter_change(session: Session, approval: Approval | None) -> LetterChange | None:
    edit = edit_in(approval)
    if approval is None or edit is None:
        return None
    by = get_person(session, approval.approver_id).name
    return LetterChange(by, approval.decided_at, edit.original, edit.edited)


@dataclass
class CaseView:
    case: Case
    label: str
    reporter: Person
    lead: Person
    steps: list[CaseStep]
    owners: dict[int, str]
    evidence: list[Evidence]
    history: list[Line]  # what happened, in sentences, for those who see the record
    access_log: list[AuditEvent]
    delivery: dict[str, int]
    approvals: dict[str, Approval]
    documents: list[Document]
    rights: frozenset[str] = frozenset()  # the names of the case actions the viewer has
    disabled_owners: frozenset[int] = frozenset()  # owners of waiting steps who left
    print_files: list[PrintFileView] = field(default_factory=list)  # letters to post
    undelivered: list[Undelivered] = field(default_factory=list)
    stopped: AuditEvent | None = None  # the procedure stopped and needs a person
    notes: list[Note] = field(default_factory=list)
    corrected: frozenset[str] = frozenset()  # the answers corrected since intake
    handover: HandOverView = field(default_factory=HandOverView)  # who holds what, and why
    letter_change: LetterChange | None = None  # the letter was approved in other words
    letter_progress: LetterProgress | None = None  # how the letter to parents is going
    history_total: int = 0  # the history shows the newest HISTORY_SHOWN of these
    answers: list[tuple[str, str]] = field(default_factory=list)  # every answer, in words
    subject: str = ""  # the member of staff a report is about, by name
    access_total: int = 0
    linked: list[LinkGroup] = field(default_factory=list)  # other cases naming its accounts
    in_error: dict[int, str] = field(default_factory=dict)  # events marked wrong, and why


def case_view(session: Session, actor: Actor, case_id: int) -> CaseView:
    """Everything the case page shows this person, need-to-know; the view is logged."""
    case, facts = case_with_facts(session, actor, case_id)
    rights = frozenset(a.name for a in CASE_ACTIONS if may(actor, a, facts))
    full = Action.VIEW_RECORD.name in rights
    log_access(session, case, actor, AuditKind.CASE_VIEWED)
    steps = steps_of(session, case.id)
    told, history_total = (
        events_of_kinds(session, case.id, HISTORY_KINDS, limit=HISTORY_SHOWN) if full else ([], 0)
    )
    in_error = marked_in_error(session, case.id) if full else {}
    access_log, access_total = (
        latest_events(session, case.id, access=True, limit=ACCESS_SHOWN) if full else ([], 0)
    )
    approvals = approvals_of(session, case.id) if full else {}
    view = CaseView(
        case=case,
        label=procedure_for(case.incident_type).label,
        reporter=get_person(session, case.reporter_id),
        lead=get_person(session, case.lead_id),
        steps=steps,
        owners=names_of(session, {s.owner_id for s in steps if s.owner_id}),
        disabled_owners=inactive_among(session, {s.owner_id for s in steps if s.owner_id}),
        evidence=[
            e for e in evidence_of(session, case.id) if may_download(actor, facts, e.uploaded_by_id)
        ],
        history=history(told, {s.key: s.title for s in steps}, in_error),
        history_total=history_total,
        in_error=in_error,
        answers=answers_of(case, names_of(session, people_in(case))),
        subject=subject.name if (subject := find_person(session, case.subject_id)) else "",
        access_log=access_log,
        access_total=access_total,
        delivery=delivery_counts(session, case.id) if full else {},
        approvals=approvals,
        documents=documents_of(session, case) if full else [],
        rights=rights,
        print_files=print_files_of(session, case.id) if full else [],
        undelivered=(
            undelivered_of(session, case.id, Action.SEE_ADDRESSES.name in rights) if full else []
        ),
        stopped=procedure_stopped(session, case.id) if case.status == CaseStatus.OPEN else None,
        linked=link_groups(case, linked_cases(session, actor, case, facts=facts)),
        notes=notes_with_authors(session, case.id) if full else [],
        corrected=frozenset(
            str(d.get("field")) for d in data_of(session, case.id, AuditKind.CASE_CORRECTED)
        ),
        handover=handover_view(session, actor, case, facts),
        letter_change=letter_change(session, approvals.get(StepKey.APPROVE_PARENT_LETTER)),
        letter_progress=letter_progress(session, case.id) if full else None,
    )
    session.expunge_all()
    # Detached now, so hiding what this person need not know changes nothing stored.
    for step in view.steps:
        if not sees_step_outcome(actor, facts, step.owner_id):
            step.outcome = ""
    if not full:
        case.outcome = ""
    return view


def notes_with_authors(session: Session, case_id: int) -> list[Note]:
    notes = notes_of(session, case_id)
    names = names_of(session, {n.author_id for n in notes})
    return [Note(names.get(n.author_id, "?"), n.created_at, n.text) for n in notes]


@dataclass(frozen=True)
class LinkGroup:
    """The other cases, among those the viewer may see, that name one account of this case."""

    account: str
    summary: str  # "2 earlier cases mention @jay_k"
    cases: list[tuple[Linked, str]]  # with each case's label


def _count(n: int, when: str) -> str:
    return f"{n} {when} case{'s' if n != 1 else ''}"


def link_groups(case: Case, linked: list[Linked]) -> list[LinkGroup]:
    """Linked cases by account, each group with its summary line."""
    by_account: dict[str, list[Linked]] = {}
    for found in linked:
        by_account.setdefault(found.mention.shown, []).append(found)
    groups = []
    for account, cases in by_account.items():
        earlier = sum(1 for c in cases if c.case_id < case.id)
        later = len(cases) - earlier
        counts = [_count(n, when) for n, when in ((earlier, "earlier"), (later, "later")) if n]
        verb = "mentions" if len(cases) == 1 else "mention"
        groups.append(
            LinkGroup(
                account=account,
                summary=f"{' and '.join(counts)} {verb} {account}",
                cases=[(c, procedure_for(c.incident_type).label) for c in cases],
            )
        )
    return groups


@dataclass(frozen=True)
class CaseList:
    """One page of the case list."""

    rows: list[dict[str, Any]]
    shown: CaseFilter
    page: int
    more: bool  # an older page follows


def case_rows(
    session: Session, actor: Actor, school_id: int, shown: CaseFilter = CaseFilter(), page: int = 1
) -> CaseList:
    """A page of the case list at one school: each case the person may see, what it waits
    on, whether it stopped."""
    cases, more = case_list_page(session, actor, school_id, shown, page)
    waiting = waiting_steps(session, [c.id for c in cases])
    stopped = stopped_among(session, [c.id for c in cases if c.status == CaseStatus.OPEN])
    rows = [
        {
            "case": c,
            "label": procedure_for(c.incident_type).label,
            "waiting": waiting.get(c.id, []),
            "stopped": c.id in stopped,
        }
        for c in cases
    ]
    return CaseList(rows=rows, shown=shown, page=page, more=more)


@dataclass(frozen=True)
class SearchResult:
    case: Case
    label: str
    snippet: Snippet | None


@dataclass(frozen=True)
class SearchPage:
    """The results shown, how many cases matched (counted up to `ranked`), and whether more
    matched than that, so that the results are the newest rather than the best."""

    results: list[SearchResult]
    matched: int
    newest: bool
    ranked: int


SEARCH_RESULTS = 20
# Up to this many matches are ranked; when more match, the newest are shown.
SEARCH_RANKED = RANKED


def search_results(session: Session, actor: Actor, school_id: int, terms: Terms) -> SearchPage:
    """The best matches among the cases this person may see (the newest, when very many
    match), each with a snippet of the words they may read (the entry they were found by)."""
    hits = search_cases(session, actor, school_id, terms, SEARCH_RESULTS, SEARCH_RANKED)
    results = [
        SearchResult(
            case=found.case,
            label=procedure_for(found.case.incident_type).label,
            snippet=snippet(found.entry.fields(), terms),
        )
        for found in hits.found
    ]
    return SearchPage(results, hits.matched, hits.newest, SEARCH_RANKED)
