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
    # Keeping records: closed cases due for review, legal holds, disposal, subject access.
    REVIEW_RETENTION = "review, hold and dispose of closed cases"
    SUBJECT_ACCESS = "export everything held about one person"
    # On one case.
    VIEW_CASE = "see this case"
    VIEW_RECORD = "see the full record of this case"
    DOWNLOAD_EVIDENCE = "download this case's evidence"
    WORK_CASE = "work on this case"
    EXPORT_TRAIL = "export this case's audit trail"
    ADD_NOTE = "add a note to this case"
    ADD_EVIDENCE = "add evidence to this case"
    CORRECT_CASE = "correct what was reported"
    WITHDRAW_CASE = "withdraw or reopen this case"
    SEE_ADDRESSES = "see parents' addresses on this case"
    REASSIGN = "change this case's lead or pass on its requests"


class Standing(enum.StrEnum):
    """What a person is to one case, strongest first."""

    NONE = "none"
    SUBJECT = "subject"
    MANAGER = "manager"  # the headteacher or the DSL: they also decide who does what
    RUNNER = "runner"  # head, deputy head, DSL, deputy DSL, or the case lead
    ACTING_HEAD = "acting_head"  # the chair of governors when the head is the subject
    HR = "hr"  # HR, once the case is escalated to them
    AUDITOR = "auditor"
    ASKED = "asked"  # someone asked to record a step's outcome
    REPORTER = "reporter"


# The people who run a school's cases, and those of them who decide who does what.
CASE_RUNNERS = frozenset({Role.HEADTEACHER, Role.DEPUTY_HEAD, Role.DSL, Role.DEPUTY_DSL})
CASE_MANAGERS = frozenset({Role.HEADTEACHER, Role.DSL})
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
    # The DSL and the head decide what is kept: disposal cannot be undone, and a subject
    # access export gathers a person's records from every case, so nobody else may.
    Action.REVIEW_RETENTION: _MANAGERS,
    Action.SUBJECT_ACCESS: _MANAGERS,
}

_READ = frozenset({Action.VIEW_CASE, Action.VIEW_RECORD, Action.DOWNLOAD_EVIDENCE})
_RUN = _READ | {
    Action.WORK_CASE,
    Action.EXPORT_TRAIL,
    Action.SEE_ADDRESSES,
    Action.ADD_NOTE,
    Action.ADD_EVIDENCE,
    Action.CORRECT_CASE,
    Action.WITHDRAW_CASE,
}
CASE_RIGHTS: dict[Standing, frozenset[Action]] = {
    Standing.NONE: frozenset(),
    Standing.SUBJECT: frozenset(),
    Standing.MANAGER: _RUN | {Action.REASSIGN},
    Standing.RUNNER: _RUN,
    # The chair stands in for the head, so they also decide who does what.
    Standing.ACTING_HEAD: _RUN | {Action.REASSIGN},
    Standing.HR: _READ | {Action.ADD_NOTE, Action.ADD_EVIDENCE},
    Standing.AUDITOR: _READ | {Action.EXPORT_TRAIL},
    # Their own report and what they were asked: not the investigation, HR or police
    # material. They may add evidence they collect later (and see only their own files).
    Standing.ASKED: frozenset({Action.VIEW_CASE, Action.ADD_EVIDENCE}),
    Standing.REPORTER: frozenset({Action.VIEW_CASE, Action.ADD_EVIDENCE}),
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
    StandingRule(Standing.MANAGER, CASE_MANAGERS, None),
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


# Who may be handed a waiting request, by the role whose step it is: a head's step stays with
# senior leaders (the head, to give it back; a deputy head; the DSL; the chair of governors),
# the case lead's tasks with the people who run cases, and HR's tasks with HR.
HOLDERS: dict[Role, frozenset[Role]] = {
    Role.HEADTEACHER: frozenset({Role.HEADTEACHER, Role.DEPUTY_HEAD, Role.DSL, Role.CHAIR}),
    Role.DSL: CASE_RUNNERS,
    Role.HR: frozenset({Role.HR}),
}
_WHO_MAY_HOLD = {
    Role.HEADTEACHER: "A headteacher's step can go only to the headteacher, a deputy "
    "headteacher, the designated safeguarding lead or the chair of governors",
    Role.DSL: "The case lead's tasks can go only to the headteacher, a deputy headteacher, "
    "the designated safeguarding lead or a deputy safeguarding lead",
    Role.HR: "HR's tasks can go only to another HR adviser who serves the school",
}
_WHO_MAY_LEAD = (
    "A case can be led only by the headteacher, a deputy headteacher, the designated "
    "safeguarding lead or a deputy safeguarding lead"
)


def step_owner(owner: Role | None) -> Role:
    """Whose kind of step it is: the head's, HR's, or else the case lead's (the DSL's)."""
    return owner if owner in (Role.HEADTEACHER, Role.HR) else Role.DSL


@dataclass(frozen=True)
class Candidate:
    """Someone a case or a request might be handed to, as the policy sees them."""

    id: int
    name: str
    role: Role
    schools: frozenset[int]  # every school they serve, their own included
    active: bool
    reachable: bool  # they have an email address for the link


def _a(role: Role) -> str:
    """The role with its article, as in a sentence: "a member of staff", "an HR adviser"."""
    label = role.label if role.label[:2].isupper() else role.label.lower()
    return ("an " if label[0] in "aeiouH" else "a ") + label


def _refusal(who: Candidate, case: CaseFacts, roles: frozenset[Role], rule: str) -> str:
    """What stops `who` taking on work on `case` at all, in plain words; "" if nothing."""
    if case.school_id not in who.schools:
        return f"{who.name} does not work at or serve this school."
    if who.id == case.subject_id:
        return f"{who.name} is the person this case is about, so it cannot go to them."
    if not who.active:
        return f"{who.name}'s account is disabled."
    if who.role not in roles:
        return f"{rule}; {who.name} is {_a(who.role)}."
    if not who.reachable:
        return f"{who.name} has no email address in Casework, so no link could reach them."
    return ""


def why_not_hold(
    owner: Role | None, who: Candidate, case: CaseFacts, holder_id: int, actor_id: int
) -> str:
    """Why a waiting request of `owner`'s step cannot be passed to `who`; "" if it can."""
    if who.id == actor_id:
        return "You cannot pass a request to yourself: choose someone else."
    if who.id == holder_id:
        return f"{who.name} already holds this request."
    kind = step_owner(owner)
    return _refusal(who, case, HOLDERS[kind], _WHO_MAY_HOLD[kind])


def why_not_lead(who: Candidate, case: CaseFacts) -> str:
    """Why `who` cannot become the lead of `case`; "" if they can."""
    if who.id == case.lead_id:
        return f"{who.name} already leads this case."
    return _refusal(who, case, CASE_RUNNERS, _WHO_MAY_LEAD)


def may_take_escalation(who: Candidate, case: CaseFacts, holder_id: int) -> bool:
    """Whether a request may go to `who` with nobody choosing them (up the chain, or from a
    holder who may no longer keep it): not its holder, the case's subject, a disabled or
    unreachable person, or one who does not serve the school."""
    return who.id != holder_id and not _refusal(who, case, frozenset(Role), "")


def kept_after_role_change(owner: Role | None, role: Role, case: CaseFacts, chosen: bool) -> bool:
    """Whether a waiting request stays with its holder once their role has become `role`: one
    a person chose them for (`chosen`) while `role` may still be handed it (`HOLDERS`); one
    that came for their role only while `role` is the one its kind of step asks for (the
    acting head, HR, or anyone who may lead the case)."""
    kind = step_owner(owner)
    if chosen:
        return role in HOLDERS[kind]
    if kind == Role.HEADTEACHER:
        return role == (Role.CHAIR if case.subject_is_head else Role.HEADTEACHER)
    if kind == Role.HR:
        return role == Role.HR
    return role in CASE_RUNNERS


def may_hand_on(actor: Actor, case: CaseFacts, holder_id: int) -> bool:
    """The head or DSL (or acting head) may pass on any waiting request of a case; anyone
    else only a request they hold themselves."""
    if may(actor, Action.REASSIGN, case):
        return True
    return actor.id == holder_id and may(actor, Action.VIEW_CASE, case)


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
    Action.REVIEW_RETENTION: "retention",
    Action.SUBJECT_ACCESS: "subject access",
    Action.VIEW_CASE: "see",
    Action.VIEW_RECORD: "full record",
    Action.DOWNLOAD_EVIDENCE: "evidence",
    Action.WORK_CASE: "work it",
    Action.EXPORT_TRAIL: "export",
    Action.SEE_ADDRESSES: "parents' addresses",
    Action.ADD_NOTE: "notes",
    Action.ADD_EVIDENCE: "add evidence",
    Action.CORRECT_CASE: "correct",
    Action.WITHDRAW_CASE: "withdraw, reopen",
    Action.REASSIGN: "reassign",
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
