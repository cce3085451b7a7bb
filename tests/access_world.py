"""The world the access matrix asks about: two schools, their people, and cases each person
stands differently to (tests/api/test_access_matrix.py).

Oakfield (the demo school) gains a deputy safeguarding lead. Elmbridge has its own head and
administrator, and an HR adviser of its own who also serves Oakfield. At Oakfield, Tom
reports three staff-conduct cases: about Amy, about Amy once escalated to HR, and about the
headteacher (the chair of governors acts as head there). A withdrawn case is there to be
reopened and an online-abuse case has its meeting invitation. Each open case has a file Tom
uploaded and one the DSL uploaded, a file of printed letters, an HR and a police pack and a
request waiting on someone; the policy's view of each case (`CaseFacts`) is read back once
all that is done.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from api.import_progress import Stage, tracker
from core.access import Actor, CaseFacts
from core.enums import ApprovalKind, IncidentType, StepKey
from core.files import evidence_files, letter_files, pack_files
from db.approvals import open_request
from db.audit import case_events
from db.cases import NewCase, facts_of, finish_step, mark_waiting, open_case
from db.drafts import DraftFile, add_draft
from db.evidence import add_evidence
from db.letters import save_print_file
from db.models import Case, Person, utcnow
from db.packs import save_pack
from db.people import actor_of, serve, staff_by_email
from db.search import index_case
from db.session import Session, transaction
from forms.people import PersonForm, SchoolForm
from services.case_work import withdraw
from services.drafts import quarantine_files
from services.escalation import escalate_to_hr
from services.people import add_staff, create_school
from tests.support import PDF, report_fields

HEAD = "head@oakfield.example"
DSL = "dsl@oakfield.example"
HR = "hr@oakfield.example"
CHAIR = "chair@oakfield.example"
REPORTER = "tom.byrne@oakfield.example"
SUBJECT = "amy.fletcher@oakfield.example"
OTHER_STAFF = "sara.novak@oakfield.example"
DEPUTY_DSL = "nadia.khan@oakfield.example"
OTHER_HEAD = "head@elmbridge.example"
OTHER_ADMIN = "admin@elmbridge.example"
ADMIN = "admin@oakfield.example"
COUNCIL_HR = "hr@elmbridge.example"


@dataclass(frozen=True)
class CaseTarget:
    """One case, with what the routes about it need: ids in its address and the policy's facts."""

    name: str
    id: int
    facts: CaseFacts
    files: tuple[tuple[int, int], ...] = ()  # (evidence id, uploaded by)
    print_file: int = 0
    waiting: str = ""  # the step whose request waits on `holder`
    holder: int = 0
    approval: int = 0  # that request's id
    token: str = ""  # and its emailed link's token
    first_event: int = 0  # the number of its first audit event


@dataclass(frozen=True)
class PersonTarget:
    """Someone an administrator's pages are about."""

    id: int
    school_id: int  # their own school
    schools: frozenset[int]  # their own and every school they serve


@dataclass(frozen=True)
class World:
    oakfield: int
    elmbridge: int
    open_cases: tuple[CaseTarget, ...]  # about Amy; escalated to HR; about the head
    withdrawn: CaseTarget
    meeting: CaseTarget
    people: tuple[PersonTarget, ...]  # Sara (Oakfield's) and the council's HR adviser
    import_id: str  # a parents import the headteacher has running
    import_owner: int
    people_import_id: str  # a people import Oakfield's administrator has running
    people_import_owner: int
    reporter: int = 1  # Tom, who reported every case here
    draft: str = "placeholder"  # the token of a report Tom has yet to check and send

    @property
    def by_name(self) -> dict[str, CaseTarget]:
        return {c.name: c for c in (*self.open_cases, self.withdrawn, self.meeting)}


def staff(session: Session, email: str) -> Person:
    found = staff_by_email(session, email)
    assert found is not None, email
    return found


def actor_for(url: str, email: str) -> Actor:
    with transaction(url) as session:
        return actor_of(session, staff(session, email))


def report(
    session: Session,
    kind: IncidentType,
    description: str,
    subject: Person | None = None,
    details: dict[str, Any] | None = None,
) -> Case:
    """A case Tom reports, led by the DSL, opened and indexed as intake does it."""
    case = open_case(
        session,
        school_id=staff(session, REPORTER).school_id,
        reporter=staff(session, REPORTER),
        lead=staff(session, DSL),
        new=NewCase(
            kind,
            "Facebook",
            utcnow(),
            description,
            details or {},
            subject_id=subject.id if subject else None,
        ),
    )
    index_case(session, case)
    return case


# A real one-pixel PNG, so the evidence preview answers 200 to everyone the policy lets in
# (tests.support.PNG only starts like one).
PICTURE = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00"
    b"\x00\x90wS\xde\x00\x00\x00\x0cIDATx\x9cc8!'\x07\x00\x02\xb6\x01\x054\xa6u\xaa\x00\x00"
    b"\x00\x00IEND\xaeB`\x82"
)


def upload(session: Session, case: Case, email: str, name: str) -> tuple[int, int]:
    who = staff(session, email)
    item = add_evidence(
        session,
        case.id,
        who,
        evidence_files().save(PICTURE),
        filename=name,
        content_type="image/png",
        source="",
    )
    return item.id, who.id


def waiting_on(
    session: Session, case: Case, step: StepKey, kind: ApprovalKind, email: str
) -> tuple[int, int, str]:
    """A request left waiting on someone, as the flow leaves it: (holder, request, token)."""
    holder = staff(session, email)
    approval, token = open_request(
        session,
        case_id=case.id,
        step_key=step,
        kind=kind,
        approver=holder,
        ttl=timedelta(hours=72),
    )
    mark_waiting(session, case.id, step, holder, approval.expires_at)
    assert token is not None
    return holder.id, approval.id, token


def quarantined(data: bytes, name: str) -> DraftFile:
    """A file attached to a report draft, waiting in quarantine."""
    kept = quarantine_files().save(data)
    return DraftFile(kept.stored_name, kept.sha256, kept.size, name, "image/png")


def add(session: Session, school_id: int, name: str, email: str, role: str) -> Person:
    return add_staff(session, school_id, PersonForm(name=name, email=email, role=role), None)


def build(url: str) -> World:
    with transaction(url) as session:
        oak = staff(session, HEAD).school_id
        elm = create_school(session, None, SchoolForm(name="Elmbridge Academy"), None).id
        add(session, oak, "Nadia Khan", DEPUTY_DSL, "deputy_dsl")
        add(session, elm, "Omar Reid", OTHER_HEAD, "headteacher")
        add(session, elm, "Lena Ward", OTHER_ADMIN, "admin")
        amy, head = staff(session, SUBJECT), staff(session, HEAD)
        cases = {
            "about Amy": report(
                session,
                IncidentType.STAFF_CONDUCT,
                "A colleague shared pupils' photos on a personal account.",
                amy,
            ),
            "escalated to HR": report(
                session,
                IncidentType.STAFF_CONDUCT,
                "A colleague messaged a pupil from a personal account.",
                amy,
            ),
            "about the head": report(
                session,
                IncidentType.STAFF_CONDUCT,
                "The headteacher posted a pupil's photo with their name.",
                head,
            ),
        }
        escalate_to_hr(session, cases["escalated to HR"])
        waits = {
            "about Amy": (StepKey.STAFF_OUTCOME, ApprovalKind.APPROVAL, HEAD),
            "escalated to HR": (StepKey.RECORD_HR_ADVICE, ApprovalKind.TASK, HR),
            "about the head": (StepKey.STAFF_OUTCOME, ApprovalKind.APPROVAL, CHAIR),
        }
        extras: dict[str, dict[str, Any]] = {}
        for name, case in cases.items():
            step, kind, email = waits[name]
            holder, approval, token = waiting_on(session, case, step, kind, email)
            stored = letter_files().save(PDF)
            for pack in ("hr", "police"):
                made = (pack_files().save(b"<p>The pack</p>"), pack_files().save(PDF))
                save_pack(session, case.id, pack, made, utcnow())
            extras[name] = {
                "files": (
                    upload(session, case, REPORTER, "post.png"),
                    upload(session, case, DSL, "screenshot.png"),
                ),
                "print_file": save_print_file(session, case.id, stored, [], 1).id,
                "waiting": step.value,
                "holder": holder,
                "approval": approval,
                "token": token,
            }
        withdrawn = report(
            session, IncidentType.STAFF_CONDUCT, "Reported against the wrong colleague.", amy
        )
        withdraw(session, withdrawn, staff(session, DSL), "Reported in error.")
        meeting = report(
            session,
            IncidentType.ONLINE_ABUSE,
            "An adult posted abuse under the school's post.",
            details={"target": "staff", "responsible_name": "Casey Brook"},
        )
        finish_step(session, meeting.id, StepKey.INVITE_TO_MEETING, outcome="ready to print")
        # Elmbridge's HR adviser serves Oakfield too, from after the escalation on.
        council_hr = add(session, elm, "Femi Adams", COUNCIL_HR, "hr")
        serve(session, council_hr.id, oak)
        session.flush()
        sara = staff(session, OTHER_STAFF)
        owner = head.id
        import_id = secrets.token_urlsafe(18)
        tracker.report(import_id, owner, Stage("checking", 0, 0))
        admin = staff(session, ADMIN).id
        people_import_id = secrets.token_urlsafe(18)
        tracker.report(people_import_id, admin, Stage("checking", 0, 0))
        tom = staff(session, REPORTER)
        draft = add_draft(
            session,
            person_id=tom.id,
            school_id=oak,
            incident_type=IncidentType.PUPIL_CONTACT,
            answers=report_fields(),
            files=[quarantined(PICTURE, "contact.png")],
            source="",
        )
        return World(
            oakfield=oak,
            elmbridge=elm,
            open_cases=tuple(
                CaseTarget(
                    name,
                    case.id,
                    facts_of(session, case),
                    first_event=case_events(session, case.id)[0].seq,
                    **extras[name],
                )
                for name, case in cases.items()
            ),
            withdrawn=CaseTarget("withdrawn", withdrawn.id, facts_of(session, withdrawn)),
            meeting=CaseTarget("with a meeting", meeting.id, facts_of(session, meeting)),
            people=(
                PersonTarget(sara.id, oak, frozenset({oak})),
                PersonTarget(council_hr.id, elm, frozenset({elm, oak})),
            ),
            import_id=import_id,
            import_owner=owner,
            people_import_id=people_import_id,
            people_import_owner=admin,
            reporter=tom.id,
            draft=draft,
        )


def placeholder() -> World:
    """A world of made-up ids: enough to list the matrix's routes without a database."""
    case = CaseTarget("placeholder", 1, CaseFacts(1, 1, 1, None, False, False, frozenset()))
    person = PersonTarget(1, 1, frozenset({1}))
    people = (person, person)
    return World(1, 2, (case, case, case), case, case, people, "placeholder", 1, "other", 1)
