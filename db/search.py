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
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import (
    Integer,
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
    tuple_,
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


@dataclass(frozen=True)
class Hits:
    """A search's first page and what is known of the rest.

    `matched` counts the matches up to `RANKED`. When no more than that match, every one was
    ranked and `found` holds the best, best first. When more match, `newest` is set and
    `found` holds the newest of them, newest first: ranking tens of thousands of reports that
    share a common word costs a full pass over them and orders them by little more than
    their length, so the newest are what a search engine shows, with "more than" a count.
    """

    found: list[Found]
    matched: int
    newest: bool


# A search ranks up to this many matches; beyond it the page shows the newest.
RANKED = 500

Chosen = tuple[int, bool]  # a case id, and whether the entry is its full report


def _sqlite_newest(
    session: Session, actor: Actor, school_id: int, terms: Terms, most: int
) -> list[tuple[Chosen, datetime]]:
    """The newest `most` entries that match and this person may read, read from the FTS5
    table (row id = case id × 2, + 1 for the full report) from the highest row id down, so
    FTS5 stops once it has enough. No score here: bm25 counts every match of each word."""
    case_id, tier = _FTS.c.rowid.op(">>")(1), _FTS.c.rowid.op("&")(1)
    full = may_clause(actor, Action.VIEW_RECORD)
    rows = session.execute(
        select(case_id, tier, Case.opened_at)
        .select_from(_FTS)
        .join(Case, Case.id == case_id)
        .where(literal_column(SEARCH_TABLE).op("MATCH")(fts5_query(terms)))
        .where(tier == when((full, 1), else_=0))
        .where(Case.school_id == school_id, may_clause(actor))
        .order_by(_FTS.c.rowid.desc())
        .limit(most)
    )
    return [((row[0], bool(row[1])), row[2]) for row in rows]


def _sqlite_scores(session: Session, terms: Terms, chosen: list[Chosen]) -> dict[Chosen, float]:
    """bm25 of these entries (lower is better). The row ids are tested as each match goes
    by (`rowid + 0`), not handed to FTS5, which would run the search again for each one."""
    rowids = [case_id * 2 + full for case_id, full in chosen]
    rows = session.execute(
        select(_FTS.c.rowid, func.bm25(literal_column(SEARCH_TABLE), *BM25_WEIGHTS))
        .where(literal_column(SEARCH_TABLE).op("MATCH")(fts5_query(terms)))
        .where((_FTS.c.rowid + 0).in_(rowids))
    )
    return {(rowid >> 1, bool(rowid & 1)): float(score) for rowid, score in rows}


def _postgresql_newest(
    session: Session, actor: Actor, school_id: int, terms: Terms, most: int
) -> list[tuple[Chosen, datetime]]:
    """The same from the tsvector table, newest first: the planner walks the primary key
    down for a common word and reads the GIN index for a rare one (it knows which from the
    words' statistics)."""
    full = may_clause(actor, Action.VIEW_RECORD)
    rows = session.execute(
        select(_PG.c.case_id, _PG.c.full_record, Case.opened_at)
        .select_from(_PG)
        .join(Case, Case.id == _PG.c.case_id)
        .where(_PG.c.document.op("@@")(func.to_tsquery(SIMPLE, tsquery(terms))))
        .where(_PG.c.full_record == when((full, True), else_=False))
        .where(Case.school_id == school_id, may_clause(actor))
        .order_by(_PG.c.case_id.desc())
        .limit(most)
    )
    return [((row[0], bool(row[1])), row[2]) for row in rows]


def _postgresql_scores(session: Session, terms: Terms, chosen: list[Chosen]) -> dict[Chosen, float]:
    """ts_rank of these entries, negated so that lower is better as with bm25. Asked by case
    id alone (hundreds of (id, entry) pairs take PostgreSQL longer to plan than to run), so
    the other entry of each case is scored too and left out here."""
    query = func.to_tsquery(SIMPLE, tsquery(terms))
    rows = session.execute(
        select(_PG.c.case_id, _PG.c.full_record, -func.ts_rank(_PG.c.document, query)).where(
            _PG.c.case_id.in_([case_id for case_id, _ in chosen])
        )
    )
    wanted = set(chosen)
    return {
        (case_id, bool(full)): float(score)
        for case_id, full, score in rows
        if (case_id, bool(full)) in wanted
    }


def search_cases(
    session: Session,
    actor: Actor,
    school_id: int,
    terms: Terms,
    limit: int = 20,
    ranked: int = RANKED,
) -> Hits:
    """The cases at the school `actor` may see that match: the best `limit` (bm25 or
    ts_rank, the newer first on a tie) when no more than `ranked` match, else the newest.

    The newest `ranked` + 1 matches are read as narrow rows (which case and entry, when it
    was opened), newest first, so a common word reads a few hundred entries of the index
    rather than all of them; only when no more than `ranked` match are they scored; only the
    `limit` shown are read whole.
    """
    postgres = session.get_bind().dialect.name == "postgresql"
    newest = (_postgresql_newest if postgres else _sqlite_newest)(
        session, actor, school_id, terms, ranked + 1
    )
    chosen = [entry for entry, _ in newest]
    more = len(chosen) > ranked
    if not more and len(chosen) > 1:
        scores = (_postgresql_scores if postgres else _sqlite_scores)(session, terms, chosen)
        opened = dict(newest)
        chosen.sort(key=lambda entry: opened[entry], reverse=True)
        # Stable: the newer first on a tie. (0 is the worst score either engine gives.)
        chosen.sort(key=lambda entry: scores.get(entry, 0.0))
    return Hits(_read_whole(session, chosen[:limit], postgres), min(len(chosen), ranked), more)


def _read_whole(session: Session, chosen: list[Chosen], postgres: bool) -> list[Found]:
    """The cases and entries chosen, in the order chosen."""
    if not chosen:
        return []
    ids = [case_id for case_id, _ in chosen]
    cases = {case.id: case for case in session.scalars(select(Case).where(Case.id.in_(ids)))}
    if postgres:
        which: Any = (_PG.c.case_id, _PG.c.full_record)
        where = tuple_(*which).in_(chosen)
        columns = [_PG.c[name] for name in ENTRY_COLUMNS]
    else:
        which = (_FTS.c.rowid.op(">>")(1), _FTS.c.rowid.op("&")(1))
        where = _FTS.c.rowid.in_([case_id * 2 + full for case_id, full in chosen])
        columns = [_FTS.c[name] for name in ENTRY_COLUMNS]
    texts = {
        (row[0], bool(row[1])): Entry(bool(row[1]), *row[2:6])
        for row in session.execute(select(*which, *columns).where(where))
    }
    return [Found(cases[case_id], texts[case_id, full]) for case_id, full in chosen]
