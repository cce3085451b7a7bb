"""Who may do what: Casework's one access policy, need-to-know by default.

Every route asks this module (through the guards in api/deps.py) and every list query is
filtered by it, so a rule is written once. It is pure: the caller describes the person
(`Actor`) and, for case actions, the case (`CaseFacts`); nothing here reads the database.

Two questions are answered:
- what a role may do at the schools a person serves (`SCHOOL_RIGHTS`), and
- what a person's standing on one case lets them do there (`standing` and `CASE_RIGHTS`).
The subject of a case has no standing on it, whatever their role, so they never see it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import assert_never

from core.enums import Role


class Action(enum.StrEnum):
    """Something a person may be allowed to do; the value completes "only ... can"."""

    # At a school.
    REPORT = "report an incident"
    LIST_CASES = "see the list of cases"
    READ_SCHOOL_AUDIT = "read the school's audit trail"
    SEE_DASHBOARD = "see the dashboard"
    MANAGE_PARENTS = "manage the list of parents and carers"
    MANAGE_SETTINGS = "change the school's settings"
    MANAGE_PEOPLE = "manage people and their roles"
    MANAGE_SCHOOLS = "create and set up schools"
    # On one case.
    VIEW_CASE = "see this case"
    VIEW_RECORD = "see the full record of this case"
    DOWNLOAD_EVIDENCE = "download this case's evidence"
    WORK_CASE = "work on this case"
    EXPORT_TRAIL = "export this case's audit trail"
    SEE_ADDRESSES = "see parents' addresses on this case"


class Standing(enum.StrEnum):
    """What a person is to one case, strongest first."""

    NONE = "none"
    SUBJECT = "subject"
    RUNNER = "runner"  # head, deputy head, DSL, deputy DSL, or the case lead
    ACTING_HEAD = "acting_head"  # the chair of governors when the head is the subject
    HR = "hr"  # HR, once the case is escalated to them
    AUDITOR = "auditor"
    ASKED = "asked"  # someone asked to record a step's outcome
    REPORTER = "reporter"


# The people who run a school's cases.
CASE_RUNNERS = frozenset({Role.HEADTEACHER, Role.DEPUTY_HEAD, Role.DSL, Role.DEPUTY_DSL})
# Roles that see everything they serve: MFA is required of them at sign-in.
ELEVATED = frozenset(
    {
        Role.HEADTEACHER,
        Role.DEPUTY_HEAD,
        Role.DSL,
        Role.DEPUTY_DSL,
        Role.CHAIR,
        Role.HR,
        Role.AUDITOR,
        Role.ADMIN,
    }
)
# Everyone who signs in: parents never do.
SIGNS_IN = frozenset(set(Role) - {Role.PARENT})
# Who a report can be about, and who can be asked to do a step.
STAFF_ROLES = frozenset(CASE_RUNNERS | {Role.HR, Role.STAFF})

_MANAGERS = frozenset({Role.HEADTEACHER, Role.DSL})
SCHOOL_RIGHTS: dict[Action, frozenset[Role]] = {
    Action.REPORT: frozenset(STAFF_ROLES | {Role.CHAIR}),
    Action.LIST_CASES: frozenset(STAFF_ROLES | {Role.CHAIR, Role.AUDITOR}),
    Action.READ_SCHOOL_AUDIT: frozenset(_MANAGERS | {Role.AUDITOR}),
    Action.SEE_DASHBOARD: frozenset(_MANAGERS | {Role.CHAIR, Role.GOVERNOR, Role.AUDITOR}),
    Action.MANAGE_PARENTS: frozenset(_MANAGERS | {Role.ADMIN}),
    Action.MANAGE_SETTINGS: frozenset(_MANAGERS | {Role.ADMIN}),
    Action.MANAGE_PEOPLE: frozenset({Role.ADMIN}),
    Action.MANAGE_SCHOOLS: frozenset({Role.ADMIN}),
}

_READ = frozenset({Action.VIEW_CASE, Action.VIEW_RECORD, Action.DOWNLOAD_EVIDENCE})
CASE_RIGHTS: dict[Standing, frozenset[Action]] = {
    Standing.NONE: frozenset(),
    Standing.SUBJECT: frozenset(),
    Standing.RUNNER: _READ | {Action.WORK_CASE, Action.EXPORT_TRAIL, Action.SEE_ADDRESSES},
    Standing.ACTING_HEAD: _READ | {Action.WORK_CASE, Action.EXPORT_TRAIL, Action.SEE_ADDRESSES},
    Standing.HR: _READ,
    Standing.AUDITOR: _READ | {Action.EXPORT_TRAIL},
    # Their own report and what they were asked: not the investigation, HR or police material.
    Standing.ASKED: frozenset({Action.VIEW_CASE}),
    Standing.REPORTER: frozenset({Action.VIEW_CASE}),
}


@dataclass(frozen=True)
class Actor:
    """A signed-in person as the policy sees them."""

    id: int
    role: Role
    school_id: int  # their own school
    schools: frozenset[int]  # every school they serve, their own included


@dataclass(frozen=True)
class CaseFacts:
    """What the policy needs to know about one case."""

    school_id: int
    reporter_id: int
    lead_id: int
    subject_id: int | None
    subject_is_head: bool
    hr_escalated: bool
    asked: frozenset[int]  # everyone a step of the case was ever asked of


class Relation(enum.StrEnum):
    """Something true or not of a person and one case, that a standing rests on."""

    IS_SUBJECT = "is_subject"
    IS_LEAD = "is_lead"
    HEAD_IS_SUBJECT = "head_is_subject"
    HR_ESCALATED = "hr_escalated"
    WAS_ASKED = "was_asked"
    IS_REPORTER = "is_reporter"


@dataclass(frozen=True)
class StandingRule:
    """A person has `standing` on a case when their role is one of `roles` (None: any role)
    and `relation` holds (None: whatever the case)."""

    standing: Standing
    roles: frozenset[Role] | None
    relation: Relation | None


# Tried in order, the first that fits decides: `standing` applies them to one case, and
# db.cases turns them into the SQL that filters every list, so both read the same rules.
STANDING_RULES: tuple[StandingRule, ...] = (
    StandingRule(Standing.SUBJECT, None, Relation.IS_SUBJECT),
    StandingRule(Standing.RUNNER, CASE_RUNNERS, None),
    StandingRule(Standing.RUNNER, None, Relation.IS_LEAD),
    StandingRule(Standing.ACTING_HEAD, frozenset({Role.CHAIR}), Relation.HEAD_IS_SUBJECT),
    StandingRule(Standing.HR, frozenset({Role.HR}), Relation.HR_ESCALATED),
    StandingRule(Standing.AUDITOR, frozenset({Role.AUDITOR}), None),
    StandingRule(Standing.ASKED, None, Relation.WAS_ASKED),
    StandingRule(Standing.REPORTER, None, Relation.IS_REPORTER),
)


def rules_for(actor: Actor) -> tuple[tuple[Standing, Relation | None], ...]:
    """The rules that can apply to this person's role, in order, ending at the first that
    needs nothing of the case (nothing after it can apply). Empty for people who never sign in."""
    if actor.role not in SIGNS_IN:
        return ()
    found: list[tuple[Standing, Relation | None]] = []
    for rule in STANDING_RULES:
        if rule.roles is None or actor.role in rule.roles:
            found.append((rule.standing, rule.relation))
            if rule.relation is None:
                break
    return tuple(found)


def holds(actor: Actor, case: CaseFacts, relation: Relation) -> bool:
    """Whether `relation` is true of this person and this case."""
    match relation:
        case Relation.IS_SUBJECT:
            return actor.id == case.subject_id
        case Relation.IS_LEAD:
            return actor.id == case.lead_id
        case Relation.HEAD_IS_SUBJECT:
            return case.subject_is_head
        case Relation.HR_ESCALATED:
            return case.hr_escalated
        case Relation.WAS_ASKED:
            return actor.id in case.asked
        case Relation.IS_REPORTER:
            return actor.id == case.reporter_id
    assert_never(relation)


def standing(actor: Actor, case: CaseFacts) -> Standing:
    """What `actor` is to `case`; the subject and other schools' people are nobody to it."""
    if case.school_id not in actor.schools:
        return Standing.NONE
    for found, relation in rules_for(actor):
        if relation is None or holds(actor, case, relation):
            return found
    return Standing.NONE


def may(actor: Actor, action: Action, case: CaseFacts | None = None) -> bool:
    """Whether `actor` may do `action` (at one of their schools, or on `case`)."""
    if action in SCHOOL_RIGHTS:
        return actor.role in SCHOOL_RIGHTS[action]
    if case is None:
        raise ValueError(f"{action.name} is about a case: say which")
    return action in CASE_RIGHTS[standing(actor, case)]


def may_download(actor: Actor, case: CaseFacts, uploaded_by_id: int) -> bool:
    """Evidence: everyone with the full record, and whoever uploaded the file."""
    if may(actor, Action.DOWNLOAD_EVIDENCE, case):
        return True
    return may(actor, Action.VIEW_CASE, case) and uploaded_by_id == actor.id


def sees_step_outcome(actor: Actor, case: CaseFacts, owner_id: int | None) -> bool:
    """A step's recorded outcome: the full record, or the person who recorded it."""
    return may(actor, Action.VIEW_RECORD, case) or (owner_id is not None and owner_id == actor.id)


def actions_at_school(role: Role) -> frozenset[Action]:
    """Everything a role may do at the schools a person serves (for the nav and the README)."""
    return frozenset(a for a, roles in SCHOOL_RIGHTS.items() if role in roles)


# Short column names for the README's table.
SHORT = {
    Action.REPORT: "report",
    Action.LIST_CASES: "case list",
    Action.READ_SCHOOL_AUDIT: "school audit",
    Action.SEE_DASHBOARD: "dashboard",
    Action.MANAGE_PARENTS: "parents",
    Action.MANAGE_SETTINGS: "settings",
    Action.MANAGE_PEOPLE: "people",
    Action.MANAGE_SCHOOLS: "schools",
    Action.VIEW_CASE: "see",
    Action.VIEW_RECORD: "full record",
    Action.DOWNLOAD_EVIDENCE: "evidence",
    Action.WORK_CASE: "work it",
    Action.EXPORT_TRAIL: "export",
    Action.SEE_ADDRESSES: "parents' addresses",
}


def _case_rights_text(role: Role) -> str:
    """What a role may do on a case that is not about them, read off this policy."""
    someone = Actor(id=1, role=role, school_id=1, schools=frozenset({1}))
    cases = (
        (CaseFacts(1, 2, 3, 4, False, False, frozenset()), ""),
        (CaseFacts(1, 2, 3, 4, True, False, frozenset()), " (when the head is the subject)"),
        (CaseFacts(1, 2, 3, 4, False, True, frozenset()), " (once escalated to HR)"),
    )
    for facts, when in cases:
        found = CASE_RIGHTS[standing(someone, facts)]
        if found:
            return ", ".join(SHORT[a] for a in Action if a in found) + when
    return "only cases they reported or were asked about: see"


def role_matrix() -> str:
    """The README's table of roles, written from this policy (a test keeps them the same)."""
    school_actions = list(SCHOOL_RIGHTS)
    head = ["role", *(SHORT[a] for a in school_actions), "on any case of their schools"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for role in Role:
        if role not in SIGNS_IN:
            continue
        marks = ["yes" if role in SCHOOL_RIGHTS[a] else "–" for a in school_actions]
        lines.append("| " + " | ".join([role.label, *marks, _case_rights_text(role)]) + " |")
    return "\n".join(lines)
