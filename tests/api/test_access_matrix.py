"""Every guarded route, asked by every kind of person, answers exactly as core/access.py says.

Two schools; a staff-conduct case at the first about one member of staff, reported by
another. Each persona signs in for real and requests every route; the expected status comes
from the policy (so a route wired to the wrong rule fails), and a hand-written table of the
policy's key promises checks the policy itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from core.access import Action, CaseFacts, may, may_download
from core.enums import Role
from core.files import evidence_files
from core.settings import Settings
from db.cases import NewCase, facts_of, open_case
from db.evidence import add_evidence
from db.models import Case, IncidentType, Person, utcnow
from db.people import actor_of, staff_by_email
from db.session import transaction
from forms.people import PersonForm, SchoolForm
from services.people import add_staff, create_school
from tests.support import PNG, csrf_of

OTHER_HEAD = "head@elmbridge.example"
SUBJECT = "amy.fletcher@oakfield.example"
REPORTER = "tom.byrne@oakfield.example"
PERSONAS = {
    "headteacher": "head@oakfield.example",
    "deputy head": "deputy@oakfield.example",
    "DSL": "dsl@oakfield.example",
    "HR (not escalated)": "hr@oakfield.example",
    "auditor": "auditor@oakfield.example",
    "reporter of the staff case": REPORTER,
    "the case's subject": SUBJECT,
    "other staff": "sara.novak@oakfield.example",
    "chair of governors": "chair@oakfield.example",
    "governor": "governor@oakfield.example",
    "admin": "admin@oakfield.example",
    "another school's head": OTHER_HEAD,
}


@dataclass(frozen=True)
class World:
    case_id: int
    evidence_id: int
    facts: CaseFacts
    uploaded_by: int


def build(url: str) -> World:
    """A second school with its own head, and a staff-conduct case with one evidence file."""
    with transaction(url) as session:
        elm = create_school(session, None, SchoolForm(name="Elmbridge Academy"), None)
        add_staff(
            session,
            elm.id,
            PersonForm(name="Omar Reid", email=OTHER_HEAD, role="headteacher"),
            None,
        )
        reporter = staff_by_email(session, REPORTER)
        subject = staff_by_email(session, SUBJECT)
        dsl = staff_by_email(session, "dsl@oakfield.example")
        assert reporter and subject and dsl
        case = open_case(
            session,
            school_id=reporter.school_id,
            reporter=reporter,
            lead=dsl,
            new=NewCase(
                IncidentType.STAFF_CONDUCT,
                "Facebook",
                utcnow(),
                "A colleague shared pupils' photos on a personal account.",
                {},
                subject_id=subject.id,
            ),
        )
        kept = evidence_files().save(PNG)
        item = add_evidence(
            session,
            case.id,
            reporter,
            kept,
            filename="post.png",
            content_type="image/png",
            source="",
        )
        session.flush()
        return World(case.id, item.id, facts_of(session, case), reporter.id)


def expected(email: str, world: World) -> dict[str, int]:
    """The status each route should give this person, read off the policy."""
    with transaction() as session:
        person = staff_by_email(session, email)
        assert person is not None
        actor = actor_of(session, person)
    sees = may(actor, Action.VIEW_CASE, world.facts)

    def school(action: Action) -> int:
        return 200 if may(actor, action) else 403

    def on_case(allowed: bool) -> int:
        return 404 if not sees else 200 if allowed else 403

    c, e = world.case_id, world.evidence_id
    return {
        "/report": school(Action.REPORT),
        "/audit": school(Action.READ_SCHOOL_AUDIT),
        "/admin/parents": school(Action.MANAGE_PARENTS),
        "/admin/stock-response": school(Action.MANAGE_SETTINGS),
        "/admin/escalation": school(Action.MANAGE_SETTINGS),
        "/admin/people": school(Action.MANAGE_PEOPLE),
        "/admin/schools": school(Action.MANAGE_SCHOOLS),
        f"/cases/{c}": on_case(True),
        f"/api/cases/{c}": on_case(True),
        f"/cases/{c}/audit.json": on_case(may(actor, Action.EXPORT_TRAIL, world.facts)),
        f"/cases/{c}/evidence/{e}": on_case(may_download(actor, world.facts, world.uploaded_by)),
        f"/cases/{c}/packs/hr": on_case(may(actor, Action.VIEW_RECORD, world.facts)),
    }


# What the policy promises, written out by hand: (persona, sees the case, sees the full record).
PROMISES = {
    "headteacher": (True, True),
    "deputy head": (True, True),
    "DSL": (True, True),
    "HR (not escalated)": (False, False),
    "auditor": (True, True),
    "reporter of the staff case": (True, False),
    "the case's subject": (False, False),
    "other staff": (False, False),
    "chair of governors": (False, False),
    "governor": (False, False),
    "admin": (False, False),
    "another school's head": (False, False),
}


def test_every_route_answers_every_person_as_the_policy_says(
    configured: Settings, signed_in: Callable[[str], TestClient]
) -> None:
    world = build(configured.database_url)
    client: TestClient | None = None
    seen: dict[str, dict[str, int]] = {}
    wanted: dict[str, dict[str, int]] = {}
    for persona, email in PERSONAS.items():
        if client is not None:
            client.cookies.clear()
        client = signed_in(email)
        want = expected(email, world)
        wanted[persona] = want
        seen[persona] = {path: client.get(path).status_code for path in want}
        home = client.get("/")
        assert home.status_code == 200, persona
    assert seen == wanted

    for persona, (sees, full) in PROMISES.items():
        case_page = wanted[persona][f"/cases/{world.case_id}"]
        pack = wanted[persona][f"/cases/{world.case_id}/packs/hr"]
        assert (case_page == 200, pack == 200) == (sees, full), persona
    evidence = f"/cases/{world.case_id}/evidence/{world.evidence_id}"
    assert wanted["reporter of the staff case"][evidence] == 200, "their own upload"


def test_signed_out_visitors_are_sent_to_sign_in(configured: Settings, client: TestClient) -> None:
    world = build(configured.database_url)
    for path in ("/", "/report", "/admin/people", f"/cases/{world.case_id}", "/audit"):
        answer = client.get(path, follow_redirects=False)
        assert answer.status_code in (303, 307, 401), path
        if answer.status_code != 401:
            assert answer.headers["location"].startswith("/signin"), path
    assert client.get(f"/api/cases/{world.case_id}").status_code == 401


def test_the_case_subject_cannot_act_on_their_case_even_with_a_valid_form(
    configured: Settings, signed_in: Callable[[str], TestClient]
) -> None:
    world = build(configured.database_url)
    client = signed_in(SUBJECT)
    page = client.get("/report")
    refused = client.post(
        f"/cases/{world.case_id}/steps/investigate/reissue",
        data={"csrf_token": csrf_of(page.text)},
    )
    assert refused.status_code == 404


def test_the_reporter_sees_the_report_but_not_the_findings(
    configured: Settings, signed_in: Callable[[str], TestClient]
) -> None:
    world = build(configured.database_url)
    with transaction(configured.database_url) as session:
        case = session.get(Case, world.case_id)
        assert case is not None
        case.outcome = "Formal disciplinary process begun."
    page = signed_in(REPORTER).get(f"/cases/{world.case_id}").text
    assert "A colleague shared pupils" in page, "their own report"
    assert "Formal disciplinary process" not in page, "not the outcome"
    assert "Timeline" not in page and "/packs/hr" not in page
    assert "post.png" in page, "the file they uploaded"


@pytest.mark.parametrize("role", [Role.GOVERNOR, Role.ADMIN])
def test_governors_and_admins_never_see_a_case_list(
    configured: Settings, signed_in: Callable[[str], TestClient], role: Role
) -> None:
    world = build(configured.database_url)
    with transaction(configured.database_url) as session:
        person = session.scalars(select(Person).where(Person.role == role)).one()
        email = str(person.email)
    home = signed_in(email).get("/").text
    assert f"/cases/{world.case_id}" not in home
    if role == Role.GOVERNOR:
        assert "Staff reported for breaching the policy" in home or "Overview" in home
