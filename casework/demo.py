"""The demo school `make run` seeds into an empty database."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from core.enums import (
    ApprovalKind,
    AuditKind,
    Decision,
    EmailKind,
    IncidentType,
    OrganisationKind,
    Phase,
    Role,
    StepKey,
)
from core.templating import RenderedEmail
from db.approvals import claim_decision, open_request
from db.audit import record_event
from db.cases import NewCase, close_case, finish_step, open_case, steps_of
from db.identity import add_provider, providers
from db.models import Case, CaseStatus, OutboxStatus, Person, School, StepStatus, utcnow
from db.outbox import dedup_key, queue_email
from db.people import active_parents, add_person, holder_of, signers
from db.retention import date_review, place_hold
from db.schools import add_organisation, add_school, first_school, organisations
from db.search import index_case
from db.session import Session

STAFF: tuple[tuple[str, str, Role, str], ...] = (
    ("Helen Okafor", "head@oakfield.example", Role.HEADTEACHER, "Headteacher"),
    ("Daniel Price", "dsl@oakfield.example", Role.DSL, "Designated safeguarding lead"),
    ("Priya Shah", "hr@oakfield.example", Role.HR, "HR adviser"),
    ("Graham Lowe", "auditor@oakfield.example", Role.AUDITOR, "Trust auditor"),
    ("Amy Fletcher", "amy.fletcher@oakfield.example", Role.STAFF, "Year 6 teacher"),
    ("Tom Byrne", "tom.byrne@oakfield.example", Role.STAFF, "PE teacher"),
    ("Sara Novak", "sara.novak@oakfield.example", Role.STAFF, "Teaching assistant"),
    ("Margaret Ellis", "chair@oakfield.example", Role.CHAIR, "Chair of governors"),
    ("Ruth Adeyemi", "governor@oakfield.example", Role.GOVERNOR, "Safeguarding governor"),
    ("Ian Marsh", "admin@oakfield.example", Role.ADMIN, "School business manager"),
    ("Kate Doyle", "deputy@oakfield.example", Role.DEPUTY_HEAD, "Deputy headteacher"),
)
FIRST = ("Alex", "Sam", "Jo", "Chris", "Pat", "Robin", "Kim", "Lee", "Jamie", "Morgan")
LAST = ("Hughes", "Patel", "Evans", "Khan", "Wright", "Murphy", "Clarke", "Ali", "Jones", "Walsh")


def seed_demo(session: Session, parents: int = 50) -> School | None:
    """Create the demo school unless any school exists; returns it, or None if skipped."""
    if first_school(session) is not None:
        return None
    trust = add_organisation(session, name="Oakfield Learning Trust", kind=OrganisationKind.TRUST)
    school = add_school(
        session,
        organisation_id=trust.id,
        phase=Phase.PRIMARY,
        name="Oakfield Primary School",
        address="1 Orchard Lane\nOakfield\nOK1 2AB",
        email="office@oakfield.example",
        phone="01234 567890",
    )
    for name, email, role, title in STAFF:
        add_person(session, school_id=school.id, name=name, email=email, role=role, job_title=title)
    for n in range(parents):
        add_person(
            session,
            school_id=school.id,
            name=f"{FIRST[n % 10]} {LAST[(n // 10) % 10]}",
            role=Role.PARENT,
            email=f"parent{n + 1:02d}@families.example",
        )
    record_event(
        session,
        case_id=None,
        kind=AuditKind.SCHOOL_SEEDED,
        data={"school": school.name, "staff": len(STAFF), "parents": parents},
        school_id=school.id,
    )
    return school


# Closed cases from years ago, so `make run` shows a review queue with something in it (the
# tests' seeded school has none: their case counts start from nothing).
OLD_CASES: tuple[tuple[IncidentType, int, str, dict[str, Any], str], ...] = (
    (
        IncidentType.PARENT_CONTACT,
        2017,
        "A parent sent a friend request and messages about homework on Facebook.",
        {"parent_name": "Alex Hughes", "child_year_group": "Year 4", "platform_key": "facebook"},
        "",
    ),
    (
        IncidentType.PUPIL_CONTACT,
        2008,
        "A pupil followed a teacher on Instagram and sent two messages.",
        {
            "pupil_name": "Robin Clarke",
            "pupil_year_group": "Year 6",
            "pupil_reference": "",
            "pupil_account": "",
            "contact_continued": False,
            "platform_key": "instagram",
        },
        "",
    ),
    (
        IncidentType.ONLINE_ABUSE,
        2016,
        "Offensive posts about the school in a local community group.",
        {"target": "school", "target_name": "", "links": "facebook.com/groups/example"},
        "A parent's solicitor has written about a claim; keep everything until it is settled.",
    ),
)


def seed_demo_records(session: Session, school: School) -> int:
    """The demo school's old closed cases: two due for review, one under a legal hold."""
    reporter = holder_of(session, school.id, Role.HEADTEACHER)
    dsl = holder_of(session, school.id, Role.DSL)
    assert reporter is not None and dsl is not None
    for kind, year, description, details, hold in OLD_CASES:
        when = datetime(year, 10, 6, 9, 30, tzinfo=UTC)
        case = open_case(
            session,
            school_id=school.id,
            reporter=reporter,
            lead=dsl,
            new=NewCase(kind, "Facebook", when, description, details),
        )
        case.opened_at = when
        case.reference = f"CW-{year}-{case.id:05d}"
        index_case(session, case)
        close_case(session, case, "Resolved.", dsl)
        case.closed_at = when + timedelta(days=21)
        date_review(session, case)
        if hold:
            place_hold(session, case, dsl, hold)
    return len(OLD_CASES)


DEV_PROVIDER = "Local test accounts"


def dev_sign_in_accounts(session: Session, issuer: str) -> list[dict[str, object]]:
    """Dev mode: offer every organisation the local provider, and list its accounts.

    The accounts are the people who can sign in now, with verified addresses, so each can be
    tried through "Sign in with Local test accounts" as well as by emailed link.
    """
    known = {(p.organisation_id, p.issuer) for p in providers(session)}
    for organisation in organisations(session):
        if (organisation.id, issuer) not in known:
            add_provider(
                session,
                organisation_id=organisation.id,
                name=DEV_PROVIDER,
                issuer=issuer,
                client_id="casework-dev",
                client_secret="casework-dev",
                trust_mfa=False,
            )
    return [
        {"sub": str(p.email), "email": p.email, "email_verified": True, "name": p.name}
        for p in signers(session)
    ]


# --- A year of closed cases, so the dashboard has something to show ---------------------

HISTORY_CASES = 36
HISTORY_DAYS = 330
HISTORY_NOTE = "Demo history: seeded by `make run` to fill the dashboard."
PLATFORM_KEYS = ("instagram", "tiktok", "snapchat", "facebook", "whatsapp", "x", "youtube")


def seed_demo_history(session: Session, school: School, now: datetime | None = None) -> int:
    """Closed and withdrawn cases over the past year at the demo school (none open, so no
    procedure starts for them); returns how many. The same every time: a fixed seed."""
    now = now or utcnow()
    pick = random.Random(12)
    mine = [p for p in signers(session) if p.school_id == school.id]
    people = {p.role: p for p in mine}
    reporter, subject = [p for p in mine if p.role == Role.STAFF][:2]
    lead = people[Role.DSL]
    kinds = list(IncidentType)
    for n in range(HISTORY_CASES):
        kind = kinds[n % len(kinds)]
        opened = now - timedelta(days=pick.uniform(7, HISTORY_DAYS), hours=pick.uniform(0, 9))
        new = NewCase(
            kind,
            pick.choice(PLATFORM_KEYS),
            opened,
            HISTORY_NOTE,
            {},
            subject_id=subject.id if kind == IncidentType.STAFF_CONDUCT else None,
        )
        case = open_case(session, school_id=school.id, reporter=reporter, lead=lead, new=new)
        case.opened_at = opened
        settle_history(session, case, people[Role.HEADTEACHER], pick)
    return HISTORY_CASES


def settle_history(session: Session, case: Case, head: Person, pick: random.Random) -> None:
    """What became of one past case: its answers, then closed (or, now and then, withdrawn)."""
    if pick.random() < 0.08:
        case.status = CaseStatus.WITHDRAWN
        return
    if case.incident_type == IncidentType.ONLINE_ABUSE:
        if pick.random() < 0.3:
            finish_step(session, case.id, StepKey.POLICE_REFERRAL, outcome=HISTORY_NOTE)
        resolution = pick.choice(("resolved", "resolved", "partly_resolved", "unresolved"))
        answered(session, case, head, StepKey.RECORD_RESOLUTION, {"resolution": resolution})
    if case.incident_type == IncidentType.STAFF_CONDUCT:
        case.hr_escalated_at = case.opened_at + timedelta(days=1)
        decision = pick.choice((Decision.NO_ACTION, Decision.ADVICE, Decision.FORMAL_PROCESS))
        answered(session, case, head, StepKey.STAFF_OUTCOME, {}, decision)
    if case.incident_type != IncidentType.STAFF_CONDUCT and pick.random() < 0.4:
        letter_went(session, case)
    for step in steps_of(session, case.id):
        if step.status == StepStatus.PENDING:
            finish_step(session, case.id, step.key, outcome=HISTORY_NOTE, skipped=True)
    close_case(session, case, HISTORY_NOTE)
    case.closed_at = case.opened_at + timedelta(days=pick.uniform(0.2, 30))


def letter_went(session: Session, case: Case) -> None:
    """The letter to every parent, as sent long ago: its outbox rows are already sent, so
    the demo's mail catcher is not flooded with old letters."""
    letter = RenderedEmail(
        "A message from the school", "Dear parent or carer,", "<p>Dear parent or carer,</p>"
    )
    for parent in active_parents(session, case.school_id):
        row = queue_email(
            session,
            dedup_key=dedup_key(EmailKind.PARENT_LETTER, case.id, parent.id),
            to=parent,
            email=letter,
            kind=EmailKind.PARENT_LETTER,
            case_id=case.id,
            audit=False,
        )
        row.status, row.sent_at = OutboxStatus.SENT, case.opened_at + timedelta(days=2)
    finish_step(session, case.id, StepKey.SEND_PARENT_LETTER, outcome=HISTORY_NOTE)


def answered(
    session: Session,
    case: Case,
    head: Person,
    key: StepKey,
    response: dict[str, str],
    decision: Decision = Decision.COMPLETED,
) -> None:
    """A request the procedure made, answered by the headteacher."""
    kind = ApprovalKind.TASK if decision == Decision.COMPLETED else ApprovalKind.APPROVAL
    approval, _ = open_request(
        session, case_id=case.id, step_key=key, kind=kind, approver=head, ttl=timedelta(hours=72)
    )
    claim_decision(
        session,
        approval.id,
        decision=decision,
        reason=HISTORY_NOTE,
        response=response,
        ip="",
        user_agent="",
        live_only=False,
    )
    finish_step(session, case.id, key, outcome=HISTORY_NOTE)
