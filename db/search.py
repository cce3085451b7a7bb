"""The search index and the accounts each case names: written with the case, read through
the access policy.

`index_case` keeps two things current, in the caller's transaction (intake calls it, and so
must anything that corrects a report's answers):

- `case_search`, each case's words twice over: once as the case page shows them to everyone
  who may see the case, once as the full report for those who see its full record. A search
  reads the row that matches what the person may see, so neither a result nor its snippet
  tells them more than the case page would. SQLite keeps it in an FTS5 table (row id = case
  id × 2, + 1 for the full report), PostgreSQL in a table with a tsvector and a GIN index.
  It is not in db/models.py because it is not the same table on both; migration 0010 creates
  it, and the migration test leaves it out by name (`outside_the_models`).
- `case_mentions`, the accounts and addresses the report names (core.rules.mentions_in).

Every search is filtered by `db.visibility.may_clause` in the query itself, never afterwards;
db.linked reads the accounts back the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    Text,
    bindparam,
    column,
    delete,
    func,
    insert,
    literal_column,
    select,
    table,
    text,
)
from sqlalchemy import case as when
from sqlalchemy.orm import Session

from core.access import Action, Actor
from core.enums import IncidentType
from core.procedures import procedure_for
from core.rules import ACCOUNT_FIELDS, Mention, mentions_in
from core.search import Terms, pieces_of
from db.models import Case, CaseMention
from db.people import names_of
from db.visibility import may_clause

SEARCH_TABLE = "case_search"
# The report's answers the case page shows everyone who may see the case (its Details list).
SHOWN_TO_ALL = frozenset({"pupil_name", "pupil_year_group", "pupil_reference", "pupil_account"})
# Answers that name people (forms/*.py).
NAME_ANSWERS = ("pupil_name", "parent_name", "target_name", "responsible_name")
# Other answers typed as free text. Choices from a list are left out, and so is the
# description of sexual images of a child, which no search result should ever quote.
TEXT_ANSWERS = (
    "pupil_year_group",
    "pupil_reference",
    "child_year_group",
    "responsible_email",
    *ACCOUNT_FIELDS,
)
ENTRY_COLUMNS = ("reference", "accounts", "names", "body")
# How much a match counts in each field: reference, accounts, names, the rest.
BM25_WEIGHTS = (10.0, 8.0, 4.0, 1.0)
PG_WEIGHTS = ("A", "A", "B", "D")  # ts_rank's default weights: A 1.0, B 0.4, D 0.1
SIMPLE: Any = literal_column("'simple'::regconfig")  # words as typed: names, not English stems


def outside_the_models(name: str) -> bool:
    """Tables migrations create that db/models.py does not describe (FTS5 adds its own)."""
    return name == SEARCH_TABLE or name.startswith(f"{SEARCH_TABLE}_")


class CaseRow(Protocol):
    """The columns of a case the index reads (a `Case`, or a row the migration selected)."""

    @property
    def id(self) -> int: ...
    @property
    def reference(self) -> str: ...
    @property
    def incident_type(self) -> str: ...
    @property
    def platform(self) -> str: ...
    @property
    def description(self) -> str: ...
    @property
    def details(self) -> Mapping[str, Any]: ...
    @property
    def reporter_id(self) -> int: ...
    @property
    def lead_id(self) -> int: ...
    @property
    def subject_id(self) -> int | None: ...


@dataclass(frozen=True)
class CaseText:
    """What a case says, as search and linking read it."""

    case_id: int
    reference: str
    label: str
    platform: str
    platform_key: str
    description: str
    details: Mapping[str, Any]
    people: tuple[str, ...]  # the reporter and the case lead: on every viewer's case page
    subject: str  # the member of staff it is about, if any

    def answer(self, name: str) -> str:
        value = self.details.get(name)
        return value if isinstance(value, str) else ""

    def mentions(self) -> dict[Mention, bool]:
        """Each account named, and whether every viewer's case page shows it."""
        found: dict[Mention, bool] = {}
        for name in ACCOUNT_FIELDS:
            for mention in mentions_in(self.answer(name), self.platform_key):
                found[mention] = found.get(mention, False) or name in SHOWN_TO_ALL
        return found


def text_of(row: CaseRow, names: Mapping[int, str]) -> CaseText:
    details = row.details or {}
    return CaseText(
        case_id=row.id,
        reference=row.reference,
        label=procedure_for(IncidentType(row.incident_type)).label,
        platform=row.platform,
        platform_key=str(details.get("platform_key", "other")),
        description=row.description,
        details=details,
        people=(names.get(row.reporter_id, ""), names.get(row.lead_id, "")),
        subject=names.get(row.subject_id, "") if row.subject_id is not None else "",
    )


@dataclass(frozen=True)
class Entry:
    """One row of the index: the words one kind of viewer may find the case by."""

    full: bool
    reference: str
    accounts: str
    names: str
    body: str

    def fields(self) -> list[tuple[str, str]]:
        """Labelled, in the order a snippet prefers them."""
        return [
            ("Account", self.accounts),
            ("Names", self.names),
            ("Report", self.body),
            ("Reference", self.reference),
        ]


def entry(case: CaseText, full: bool) -> Entry:
    """The full report, or what the case page shows everyone who may see it."""

    def shown(name: str) -> bool:
        return full or name in SHOWN_TO_ALL

    accounts = [m.shown for m, to_all in case.mentions().items() if full or to_all]
    names = [*case.people, *(case.answer(n) for n in NAME_ANSWERS if shown(n))]
    answers = [case.answer(n) for n in TEXT_ANSWERS if shown(n)]
    return Entry(
        full=full,
        reference=case.reference,
        accounts=" ".join([case.platform, *accounts]),
        names=" · ".join(dict.fromkeys(n for n in [*names, case.subject if full else ""] if n)),
        body="\n".join(p for p in [case.label, case.description, *answers] if p),
    )


# --- Writing ------------------------------------------------------------------------------


def index_case(session: Session, case: Case) -> None:
    """Bring the case's search entries and named accounts up to date with its report: call
    it in the same transaction as any change to the report's answers."""
    ids = {case.reporter_id, case.lead_id} | ({case.subject_id} if case.subject_id else set())
    write_index(session, [text_of(case, names_of(session, ids))])


def write_index(session: Session, cases: Sequence[CaseText]) -> None:
    """Replace these cases' rows in both tables (intake, corrections, the migration)."""
    ids = [c.case_id for c in cases]
    if not ids:
        return
    session.execute(delete(CaseMention).where(CaseMention.case_id.in_(ids)))
    mentions = [
        {"case_id": c.case_id, "platform": m.platform, "handle": m.handle, "shown_to_all": to_all}
        for c in cases
        for m, to_all in c.mentions().items()
    ]
    if mentions:
        session.execute(insert(CaseMention), mentions)
    rows = [entry(c, full) for c in cases for full in (False, True)]
    if session.get_bind().dialect.name == "postgresql":
        _write_postgresql(session, ids, rows, [c.case_id for c in cases for _ in (0, 1)])
    else:
        _write_sqlite(session, ids, rows, [c.case_id for c in cases for _ in (0, 1)])


def remove_case(session: Session, case_id: int) -> None:
    """Disposal: the case can no longer be found by any word, and names no account."""
    session.execute(delete(CaseMention).where(CaseMention.case_id == case_id))
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text(f"DELETE FROM {SEARCH_TABLE} WHERE case_id = :id"), {"id": case_id})
    else:
        session.execute(
            text(f"DELETE FROM {SEARCH_TABLE} WHERE rowid IN (:plain, :full)"),
            {"plain": case_id * 2, "full": case_id * 2 + 1},
        )


def _write_sqlite(session: Session, ids: list[int], rows: list[Entry], case_ids: list[int]) -> None:
    rowids = [i * 2 + full for i in ids for full in (0, 1)]
    session.execute(
        text(f"DELETE FROM {SEARCH_TABLE} WHERE rowid IN :rowids").bindparams(
            bindparam("rowids", expanding=True)
        ),
        {"rowids": rowids},
    )
    session.execute(
        text(
            f"INSERT INTO {SEARCH_TABLE} (rowid, reference, accounts, names, body)"
            " VALUES (:rowid, :reference, :accounts, :names, :body)"
        ),
        [
            {"rowid": case_id * 2 + row.full, **_columns(row)}
            for case_id, row in zip(case_ids, rows, strict=True)
        ],
    )


def _write_postgresql(
    session: Session, ids: list[int], rows: list[Entry], case_ids: list[int]
) -> None:
    session.execute(
        text(f"DELETE FROM {SEARCH_TABLE} WHERE case_id IN :ids").bindparams(
            bindparam("ids", expanding=True)
        ),
        {"ids": ids},
    )
    # The tsvector is built from the words as core.search splits them, so a search's words
    # and the document's are split alike (PostgreSQL's own parser keeps "jay.k" whole).
    vector = " || ".join(
        f"setweight(to_tsvector('simple', :w_{name}), '{weight}')"
        for name, weight in zip(("reference", "accounts", "names", "body"), PG_WEIGHTS, strict=True)
    )
    session.execute(
        text(
            f"INSERT INTO {SEARCH_TABLE} (case_id, full_record, reference, accounts, names, body,"
            f" document) VALUES (:case_id, :full, :reference, :accounts, :names, :body, {vector})"
        ),
        [
            {
                "case_id": case_id,
                "full": row.full,
                **_columns(row),
                **{f"w_{k}": " ".join(pieces_of(v)) for k, v in _columns(row).items()},
            }
            for case_id, row in zip(case_ids, rows, strict=True)
        ],
    )


def _columns(row: Entry) -> dict[str, str]:
    return {
        "reference": row.reference,
        "accounts": row.accounts,
        "names": row.names,
        "body": row.body,
    }


# --- Searching ----------------------------------------------------------------------------

_FTS = table(
    SEARCH_TABLE,
    column("rowid", Integer),
    *(column(name, Text) for name in ("reference", "accounts", "names", "body")),
)
_PG = table(
    SEARCH_TABLE,
    column("case_id", Integer),
    column("full_record"),
    *(column(name, Text) for name in ("reference", "accounts", "names", "body")),
    column("document"),
)


def fts5_query(terms: Terms) -> str:
    """An FTS5 query of quoted phrases: every word must match, the last one as a prefix.
    The pieces are letters and digits only, so nothing typed can be FTS5 syntax."""
    phrases = [f'"{" ".join(word)}"' for word in terms.words]
    return " ".join(phrases) + "*"


def tsquery(terms: Terms) -> str:
    """The same search for PostgreSQL's to_tsquery: phrases joined by AND, the last a prefix."""
    words = [" <-> ".join(word) for word in terms.words]
    return (
        " & ".join(f"({w})" for w in words[:-1])
        + (" & " if len(words) > 1 else "")
        + (f"({words[-1]}:*)")
    )


@dataclass(frozen=True)
class Found:
    """A case found, with the entry it was found by (what this person may read of it)."""

    case: Case
    entry: Entry


def _postgresql_matches(terms: Terms, full: ColumnElement[bool]) -> tuple[Select[Any], Any]:
    """Entries matching `terms` (case id, which entry) and their score, lower is better."""
    query = func.to_tsquery(SIMPLE, tsquery(terms))
    matching = (
        select(_PG.c.case_id.label("case_id"), _PG.c.full_record.label("full"))
        .select_from(_PG)
        .join(Case, Case.id == _PG.c.case_id)
        .where(_PG.c.document.op("@@")(query))
        .where(_PG.c.full_record == when((full, True), else_=False))
    )
    return matching, -func.ts_rank(_PG.c.document, query)


def _sqlite_matches(terms: Terms, full: ColumnElement[bool]) -> tuple[Select[Any], Any]:
    """The same from the FTS5 table, whose row id is the case id × 2 (+ 1: full report)."""
    case_id, tier = _FTS.c.rowid.op(">>")(1), _FTS.c.rowid.op("&")(1)
    matching = (
        select(case_id.label("case_id"), (tier == 1).label("full"))
        .select_from(_FTS)
        .join(Case, Case.id == case_id)
        .where(literal_column(SEARCH_TABLE).op("MATCH")(fts5_query(terms)))
        .where(tier == when((full, 1), else_=0))
    )
    return matching, func.bm25(literal_column(SEARCH_TABLE), *BM25_WEIGHTS)


def search_cases(
    session: Session, actor: Actor, school_id: int, terms: Terms, limit: int = 20
) -> list[Found]:
    """The cases at the school `actor` may see that match, best first (bm25 or ts_rank).

    The best `limit` are chosen from narrow rows (which entry, its score) and only they are
    read whole: carrying every match's text through the sort made a common word spill to
    disk on PostgreSQL (150 ms with 100,000 cases, against 110 ms).
    """
    postgres = session.get_bind().dialect.name == "postgresql"
    matches = _postgresql_matches if postgres else _sqlite_matches
    matching, score = matches(terms, may_clause(actor, Action.VIEW_RECORD))
    best = (
        matching.add_columns(score.label("score"), Case.opened_at)
        .where(Case.school_id == school_id, may_clause(actor))
        .order_by(score, Case.opened_at.desc())
        .limit(limit)
        .subquery()
    )
    entries = _PG if postgres else _FTS
    entry: ColumnElement[bool] = (
        (_PG.c.case_id == best.c.case_id) & (_PG.c.full_record == best.c.full)
        if postgres
        else _FTS.c.rowid == best.c.case_id * 2 + when((best.c.full, 1), else_=0)
    )
    rows = session.execute(
        select(Case, best.c.full, *(entries.c[name] for name in ENTRY_COLUMNS))
        .select_from(best)
        .join(entries, entry)
        .join(Case, Case.id == best.c.case_id)
        .order_by(best.c.score, best.c.opened_at.desc())
    )
    return [Found(row[0], Entry(bool(row[1]), *row[2:6])) for row in rows]
