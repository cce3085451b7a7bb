"""The access policy as SQL: the WHERE clause that limits every list and search to the
cases a person may see, written from the same ordered rules `core.access.standing` reads."""

from __future__ import annotations

from typing import Any, assert_never

from sqlalchemy import ColumnElement, Select, and_, exists, false, not_, or_, select, true, union

from core.access import CASE_RIGHTS, Action, Actor, Relation, rules_for
from db.models import Approval, Case, CaseStep, Person, Role


def _relation(actor: Actor, relation: Relation) -> ColumnElement[bool]:
    """`core.access.holds` as SQL about the row in `cases` (never NULL, so NOT works)."""
    match relation:
        case Relation.IS_SUBJECT:
            return Case.subject_id.is_not_distinct_from(actor.id)
        case Relation.IS_LEAD:
            return Case.lead_id == actor.id
        case Relation.HEAD_IS_SUBJECT:
            return exists().where(Person.id == Case.subject_id, Person.role == Role.HEADTEACHER)
        case Relation.HR_ESCALATED:
            return Case.hr_escalated_at.is_not(None)
        case Relation.WAS_ASKED:
            return Case.id.in_(union(*_case_ids(actor, relation)))
        case Relation.IS_REPORTER:
            return Case.reporter_id == actor.id
    assert_never(relation)


def _case_ids(actor: Actor, relation: Relation) -> list[Select[Any]]:
    """The cases a relation holds for, as ids an index finds (none: test it row by row)."""
    match relation:
        case Relation.IS_LEAD:
            return [select(Case.id).where(Case.lead_id == actor.id)]
        case Relation.IS_REPORTER:
            return [select(Case.id).where(Case.reporter_id == actor.id)]
        case Relation.WAS_ASKED:
            # As `facts_for` reads it: any request made of them, or a step they own.
            return [
                select(Approval.case_id).where(Approval.approver_id == actor.id),
                select(CaseStep.case_id).where(CaseStep.owner_id == actor.id),
            ]
    return []


def _granted(actor: Actor, relations: list[Relation | None]) -> ColumnElement[bool]:
    """Any of these relations holds (None: always). Relations an index can answer are asked
    together as one set of case ids, so a member of staff's few cases are found through the
    indexes rather than by testing every case of the school."""
    if None in relations:
        return true()
    found = [r for r in relations if r is not None]
    ids = [query for r in found for query in _case_ids(actor, r)]
    others = [_relation(actor, r) for r in found if not _case_ids(actor, r)]
    return or_(*([Case.id.in_(union(*ids))] if ids else []), *others)


def may_clause(actor: Actor, action: Action = Action.VIEW_CASE) -> ColumnElement[bool]:
    """The access policy as a WHERE clause: true for the cases `actor` may do `action` on.

    Built from the policy's own ordered rules (`core.access.rules_for`): a case qualifies when
    a rule that grants `action` holds and no earlier rule that does not grant it holds, which
    is "the first rule that fits decides". Granting rules with the same refusing rules before
    them are asked together (tests/db/test_case_visibility.py checks the result against `may`
    case by case).
    """
    groups: list[tuple[tuple[Relation | None, ...], list[Relation | None]]] = []
    refusing: tuple[Relation | None, ...] = ()
    for found, relation in rules_for(actor):
        if action not in CASE_RIGHTS[found]:
            refusing += (relation,)
        elif groups and groups[-1][0] == refusing:
            groups[-1][1].append(relation)
        else:
            groups.append((refusing, [relation]))
    if not groups or not actor.schools:
        return false()
    allowed = [
        and_(
            _granted(actor, relations),
            *(not_(true() if r is None else _relation(actor, r)) for r in before),
        )
        for before, relations in groups
    ]
    return and_(Case.school_id.in_(sorted(actor.schools)), or_(*allowed))
