"""Cases linked by the accounts they name (`case_mentions`, written by db.search), among
the cases a person may see: filtered by the access policy in the query itself."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from core.access import Action, Actor, CaseFacts, may
from core.enums import IncidentType
from core.rules import Mention
from db.cases import facts_of
from db.models import Case, CaseMention
from db.visibility import may_clause


@dataclass(frozen=True)
class Linked:
    """Another case the viewer may see that names an account this case names."""

    mention: Mention
    case_id: int
    reference: str
    opened_at: datetime
    incident_type: IncidentType


def _accounts_in_common() -> tuple[Any, Any, Any]:
    """Two views of `case_mentions` ("mine": this case's, "theirs": another's) and the
    condition that they name the same account."""
    mine, theirs = aliased(CaseMention), aliased(CaseMention)
    return mine, theirs, (mine.platform == theirs.platform) & (mine.handle == theirs.handle)


def _linked(session: Session, actor: Actor, case: Case, facts: CaseFacts | None = None) -> Any:
    """Other cases `actor` may see naming an account of `case` that `actor` may read of
    either case (an account only in the full report links only for those who see it).
    `facts` are the case's, when the caller has them already."""
    mine, theirs, same_account = _accounts_in_common()
    facts = facts if facts is not None else facts_of(session, case)
    sees_all_of_this = may(actor, Action.VIEW_RECORD, facts)
    query = (
        select(theirs.platform, theirs.handle, Case.id, Case.reference, Case.opened_at)
        .add_columns(Case.incident_type)
        .join(mine, same_account)
        .join(Case, Case.id == theirs.case_id)
        .where(mine.case_id == case.id, theirs.case_id != case.id, may_clause(actor))
        .where(theirs.shown_to_all | may_clause(actor, Action.VIEW_RECORD))
    )
    return query if sees_all_of_this else query.where(mine.shown_to_all)


def linked_cases(
    session: Session, actor: Actor, case: Case, limit: int = 50, facts: CaseFacts | None = None
) -> list[Linked]:
    """The newest `limit` cases linked to `case` by a named account, that `actor` may see
    (`facts`: the case's, if the caller has read them, as the case page has).

    Sorted here, not in SQL: with ORDER BY opened_at, SQLite walks the school's cases newest
    first and probes each for the account, instead of the account's few cases (measured:
    250 ms against 0.3 ms with 100,000 cases).
    """
    rows = session.execute(_linked(session, actor, case, facts)).all()
    found = [Linked(Mention(p, h), *rest) for p, h, *rest in rows]
    return sorted(found, key=lambda f: (f.opened_at, f.case_id), reverse=True)[:limit]


def earlier_linked_count(session: Session, actor: Actor, case: Case) -> int:
    """How many cases opened before `case` that `actor` may see name one of its accounts."""
    linked = _linked(session, actor, case).where(Case.id < case.id).subquery()
    return int(session.scalar(select(func.count(linked.c.id.distinct()))) or 0)


def named_before(session: Session, case: Case) -> bool:
    """Whether any case opened before `case` names one of its accounts, whoever may see it:
    one quick look that spares the reader-by-reader count for the usual new case, whose
    accounts no earlier report named."""
    mine, theirs, same_account = _accounts_in_common()
    earlier = (
        select(theirs.case_id)
        .join(mine, same_account)
        .where(mine.case_id == case.id, theirs.case_id < case.id)
        .limit(1)
    )
    return session.scalar(earlier) is not None
