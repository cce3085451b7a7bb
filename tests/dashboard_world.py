"""A known mix of cases for the dashboard's tests (tests/api/test_dashboard.py), written
with the same db/ functions the procedures use, at dates chosen to test the edges.

Oakfield's autumn term 2025 runs from 1 September to 31 December (UK days). In it:

  A  pupil contact, Instagram, 10 Sep: closed 2 days 3 hours later; letter to parents
     (two emails)
  F  pupil contact, "other", 30 Sep 23:30 UTC (00:30 on 1 Oct in the UK): withdrawn
  B  online abuse, TikTok, 5 Oct: referred to the police; resolved; closed 10 days later
  C  staff conduct, Facebook, 20 Oct: escalated to HR; advice; closed 5 days later
  H  staff conduct about the headteacher, Facebook, 1 Oct: open (the head never counts it)
  D  parent contact, X, 15 Nov: open, a request waiting past its link's expiry
  E  pupil contact, Snapchat, 1 Dec: open, a request waiting and still in time
and, before the term, G (pupil contact, 31 Aug 22:30 UTC: 23:30 on the last day of August).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from core.enums import ApprovalKind, Decision, EmailKind, IncidentType, StepKey
from core.templating import RenderedEmail
from db.approvals import claim_decision, open_request
from db.cases import NewCase, close_case, finish_step, mark_waiting, open_case
from db.models import Case, CaseStatus, Person, Role, utcnow
from db.outbox import queue_email
from db.session import Session, transaction

PUPIL = "Jordan Miles"
DESCRIPTION = "Messages sent late at night to a teacher's private account."


@dataclass(frozen=True)
class DashboardWorld:
    school_id: int
    cases: dict[str, int]


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def staff(session: Session, role: Role) -> Person:
    found = session.scalars(select(Person).where(Person.role == role).order_by(Person.id)).first()
    assert found is not None
    return found


def new_case(
    session: Session,
    kind: IncidentType,
    platform: str,
    opened: str,
    subject: Person | None = None,
) -> Case:
    reporter = staff(session, Role.STAFF)
    case = open_case(
        session,
        school_id=reporter.school_id,
        reporter=reporter,
        lead=staff(session, Role.DSL),
        new=NewCase(
            kind,
            platform,
            at(opened),
            DESCRIPTION,
            {"pupil_name": PUPIL, "pupil_year_group": "Year 6"},
            subject_id=subject.id if subject else None,
        ),
    )
    case.opened_at = at(opened)
    return case


def closed(session: Session, case: Case, after: timedelta) -> None:
    close_case(session, case, "Procedure complete.")
    case.closed_at = case.opened_at + after


def decided(session: Session, case: Case, key: StepKey, decision: Decision, **answers: str) -> None:
    kind = ApprovalKind.TASK if decision == Decision.COMPLETED else ApprovalKind.APPROVAL
    approval, _ = open_request(
        session,
        case_id=case.id,
        step_key=key,
        kind=kind,
        approver=staff(session, Role.HEADTEACHER),
        ttl=timedelta(hours=72),
    )
    assert claim_decision(
        session,
        approval.id,
        decision=decision,
        reason="Recorded for the dashboard's test.",
        response=dict(answers),
        ip="",
        user_agent="",
    )


def waiting(session: Session, case: Case, key: StepKey, ttl: timedelta) -> None:
    head = staff(session, Role.HEADTEACHER)
    approval, _ = open_request(
        session, case_id=case.id, step_key=key, kind=ApprovalKind.APPROVAL, approver=head, ttl=ttl
    )
    mark_waiting(session, case.id, key, head, approval.expires_at)


def letters(session: Session, case: Case, count: int) -> None:
    finish_step(session, case.id, StepKey.SEND_PARENT_LETTER, outcome="Sent.")
    letter = RenderedEmail("A letter to parents", "Dear parent or carer,", "<p>Dear parent</p>")
    for n in range(count):
        queue_email(
            session,
            dedup_key=f"test-letter:{case.id}:{n}",
            to=f"parent{n}@families.example",
            email=letter,
            kind=EmailKind.PARENT_LETTER,
            case_id=case.id,
            audit=False,
        )


def build(url: str) -> DashboardWorld:
    with transaction(url) as session:
        head = staff(session, Role.HEADTEACHER)
        a = new_case(session, IncidentType.PUPIL_CONTACT, "instagram", "2025-09-10T10:00:00")
        letters(session, a, 2)
        closed(session, a, timedelta(days=2, hours=3))
        f = new_case(session, IncidentType.PUPIL_CONTACT, "other", "2025-09-30T23:30:00")
        f.status = CaseStatus.WITHDRAWN
        b = new_case(session, IncidentType.ONLINE_ABUSE, "tiktok", "2025-10-05T09:00:00")
        finish_step(session, b.id, StepKey.POLICE_REFERRAL, outcome="Referred.")
        decided(session, b, StepKey.RECORD_RESOLUTION, Decision.COMPLETED, resolution="resolved")
        closed(session, b, timedelta(days=10))
        c = new_case(
            session,
            IncidentType.STAFF_CONDUCT,
            "facebook",
            "2025-10-20T12:00:00",
            staff(session, Role.STAFF),
        )
        c.hr_escalated_at = c.opened_at + timedelta(days=1)
        decided(session, c, StepKey.STAFF_OUTCOME, Decision.ADVICE)
        closed(session, c, timedelta(days=5))
        h = new_case(session, IncidentType.STAFF_CONDUCT, "facebook", "2025-10-01T08:00:00", head)
        d = new_case(session, IncidentType.PARENT_CONTACT, "x", "2025-11-15T15:00:00")
        waiting(session, d, StepKey.APPROVE_PARENT_LETTER, timedelta(hours=-1))
        e = new_case(session, IncidentType.PUPIL_CONTACT, "snapchat", "2025-12-01T09:00:00")
        waiting(session, e, StepKey.APPROVE_PARENT_LETTER, timedelta(hours=72))
        g = new_case(session, IncidentType.PUPIL_CONTACT, "instagram", "2025-08-31T22:30:00")
        cases = {"A": a, "B": b, "C": c, "D": d, "E": e, "F": f, "G": g, "H": h}
        assert utcnow() > at("2026-01-01T00:00:00"), "the world is in the past"
        return DashboardWorld(head.school_id, {name: case.id for name, case in cases.items()})
