"""The letter to all parents: one email each, one printed page each, and never a name."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from jinja2 import ChoiceLoader, DictLoader
from pypdf import PdfReader
from sqlalchemy import select

from core.enums import EmailKind, StepKey
from core.files import letter_files
from core.settings import Settings
from core.templating import environment
from db.models import (
    AuditEvent,
    Case,
    CaseStep,
    ContactBy,
    OutboxMessage,
    Person,
    PostalLetter,
    PrintFile,
    Role,
    StepStatus,
)
from db.session import transaction
from flows.steps.letters import send_parent_letter
from mail.catcher import MailStore
from services.letter_check import NamedPerson, mentions, names_in_details
from services.letters import letter_preview
from tests.support import audit_kinds, count, csrf_of, make_approval, make_case, person

DEMO_PARENTS = 50  # all by email, seeded by the `configured` fixture
HEAD = "head@oakfield.example"
REPORTER = "amy.fletcher@oakfield.example"  # make_case's reporter
# Parents added for these tests: (name, email, preference, postal address).
FAMILIES = [
    ("Ada Quinn", None, ContactBy.POST, "3 Elm Row\nOakfield\nOK1 4EF"),
    ("Ben Quarry", "ben.quarry@example.com", ContactBy.POST, "7 Ash Close\nOakfield\nOK2 5GH"),
    ("Cleo Quest", None, ContactBy.EMAIL, "12 Birch Way\nOakfield\nOK3 6IJ"),
    ("Dev Quartz", "dev.quartz@example.com", ContactBy.EMAIL, "1 Oak Court\nOakfield\nOK4 7KL"),
    ("Eli Quill", None, ContactBy.POST, ""),  # a record with no way to reach them
]
BY_POST = ["Ada Quinn", "Ben Quarry", "Cleo Quest"]  # in the order they are printed


def send(case_id: int) -> int:
    """Run the step's code as the flow does, without a Prefect server."""
    return asyncio.run(send_parent_letter.fn(case_id))


def add_families(url: str) -> None:
    with transaction(url) as session:
        school_id = session.scalars(select(Person.school_id).limit(1)).one()
        for name, email, contact_by, address in FAMILIES:
            session.add(
                Person(
                    school_id=school_id,
                    role=Role.PARENT,
                    name=name,
                    email=email,
                    contact_by=contact_by,
                    postal_address=address,
                    year_groups="Year 4",
                )
            )


def step_of(url: str, case_id: int) -> CaseStep:
    with transaction(url) as session:
        step = session.scalars(
            select(CaseStep).where(
                CaseStep.case_id == case_id, CaseStep.key == StepKey.SEND_PARENT_LETTER
            )
        ).one()
        session.expunge(step)
        return step


def letters_queued(url: str, case_id: int) -> list[OutboxMessage]:
    with transaction(url) as session:
        rows = list(
            session.scalars(
                select(OutboxMessage).where(
                    OutboxMessage.case_id == case_id, OutboxMessage.kind == EmailKind.PARENT_LETTER
                )
            )
        )
        session.expunge_all()
        return rows


def print_files(url: str, case_id: int) -> list[PrintFile]:
    with transaction(url) as session:
        rows = list(session.scalars(select(PrintFile).where(PrintFile.case_id == case_id)))
        session.expunge_all()
        return rows


@pytest.fixture
def careless_letter(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A pupil-contact letter that (wrongly) says the pupil's first name."""
    env = environment()
    careless = DictLoader(
        {
            "letters/pupil_contact/parent_letter.txt.j2": (
                '{% set subject = "A reminder from " ~ school.name %}'
                "Dear parent or carer,\n"
                "{{ case.details.pupil_name.split()[0] }} messaged a teacher online.\n"
            ),
            "letters/pupil_contact/parent_letter.html.j2": (
                '{% extends "letters/_letter.html.j2" %}{% block letter %}'
                "<p>{{ case.details.pupil_name.split()[0] }} messaged a teacher online.</p>"
                "{% endblock %}"
            ),
        }
    )
    assert env.loader is not None
    monkeypatch.setattr(env, "loader", ChoiceLoader([careless, env.loader]))
    yield
    if env.cache is not None:
        env.cache.clear()


def test_a_letter_that_names_the_pupil_is_refused_with_a_clear_message(
    configured: Settings, careless_letter: None
) -> None:
    url = configured.database_url
    case_id = make_case(url)

    assert send(case_id) == 0
    step = step_of(url, case_id)
    assert step.status == StepStatus.SKIPPED
    assert step.outcome.startswith(
        "Not sent: The letter contains the name of the pupil. A letter to every parent must "
        "never name anyone involved in the case. No parent was sent it."
    )
    assert "Jordan" not in step.outcome, "the refusal does not repeat the name"
    assert letters_queued(url, case_id) == [] and print_files(url, case_id) == []
    assert audit_kinds(url, case_id)[-2:] == ["letter.refused", "step.skipped"]

    assert send(case_id) == 0, "a second run changes nothing: no retry loop"
    assert audit_kinds(url, case_id).count("letter.refused") == 1


def test_the_approval_page_warns_before_a_letter_naming_someone_is_approved(
    client: TestClient, configured: Settings, careless_letter: None
) -> None:
    case_id = make_case(configured.database_url)
    token = make_approval(configured.database_url, case_id)
    page = client.get(f"/approvals/{token}")
    assert page.status_code == 200, page.text
    assert "This letter names someone from the case" in page.text
    assert "The letter contains the name of the pupil." in page.text
    assert "It names nobody involved in the case." not in page.text


def test_the_usual_letter_names_nobody_even_when_the_case_lead_signs_it(
    configured: Settings,
) -> None:
    url = configured.database_url
    case_id = make_case(url)
    head = person(url, Role.HEADTEACHER)
    with transaction(url) as session:
        case = session.get(Case, case_id)
        assert case is not None
        case.lead_id = head.id  # the headteacher leads when there is no DSL
        preview = letter_preview(session, case)
    assert preview["problems"] == []
    assert (preview["recipients"], preview["by_post"]) == (DEMO_PARENTS, 0)


@pytest.mark.parametrize(
    ("name", "text", "found"),
    [
        ("Jordan Miles", "We spoke to jordan miles today.", True),
        ("Jordan Miles", "Jordan has been reminded of the policy.", True),
        ("jordan miles", "A message from JORDAN.", True),
        ("Sam Child", "Talk with your child about staying safe.", False),
        ("Mr Tom Byrne", "Mr Smith will be in touch.", False),
        ("Amy Fletcher", "The teachers", False),
    ],
)
def test_names_are_found_whole_or_in_part_but_not_inside_ordinary_words(
    name: str, text: str, found: bool
) -> None:
    assert mentions(text, NamedPerson("someone", name)) is found


def test_account_names_are_found_as_written_with_or_without_the_at_sign() -> None:
    account = NamedPerson("the pupil's account", "@sam_k2014", literal=True)
    assert mentions("Messages came from SAM_K2014 last week.", account)
    assert not mentions("The same thing happened twice.", NamedPerson("x", "sam", literal=True))


def test_post_parents_get_one_pdf_page_each_and_the_rest_one_email_each(
    configured: Settings,
    smtp: tuple[MailStore, int],
    deliver: Callable[[], int],
) -> None:
    url = configured.database_url
    add_families(url)
    case_id = make_case(url)

    assert send(case_id) == DEMO_PARENTS + 1 + len(BY_POST)

    queued = letters_queued(url, case_id)
    assert len(queued) == DEMO_PARENTS + 1, "the demo parents and Dev Quartz"
    assert len({m.to_addr for m in queued}) == len(queued)
    assert "ben.quarry@example.com" not in {m.to_addr for m in queued}, "Ben asked for post"
    deliver()
    caught = [m for m in smtp[0].all() if m.message_id in {q.message_id for q in queued}]
    assert len(caught) == len(queued)
    assert all(len(m.rcpt_tos) == 1 and m.to == m.rcpt_tos[0] for m in caught)

    [printed] = print_files(url, case_id)
    assert printed.letters == len(BY_POST)
    data = letter_files().path(printed.stored_name).read_bytes()
    assert data.startswith(b"%PDF") and len(data) == printed.size
    assert str(letter_files().path(printed.stored_name)).startswith(str(configured.var_dir))
    pages = PdfReader(io.BytesIO(data)).pages
    assert len(pages) == len(BY_POST), "one letter per page"
    for page, name in zip(pages, BY_POST, strict=True):
        text = page.extract_text()
        assert name in text and "Dear parent or carer" in text and "Jordan" not in text
    assert "7 Ash Close" in pages[1].extract_text(), "the address block"
    assert count(url, PostalLetter, PostalLetter.case_id == case_id) == len(BY_POST)

    outcome = step_of(url, case_id).outcome
    assert f"{DEMO_PARENTS + 1} parents by email" in outcome
    assert "3 printed letters ready for the office" in outcome
    assert "1 parent has neither an email address nor a postal address" in outcome
    kinds = audit_kinds(url, case_id)
    assert kinds[-3:] == ["letter.print_ready", "letter.sent", "step.completed"]
    with transaction(url) as session:
        sent = session.scalars(select(AuditEvent).where(AuditEvent.kind == "letter.sent")).one()
        assert sent.data["by_post"] == 3 and sent.data["by_email"] == DEMO_PARENTS + 1

    assert send(case_id) == 0, "sending again does nothing"
    assert len(letters_queued(url, case_id)) == len(queued)
    assert len(print_files(url, case_id)) == 1


def test_the_case_page_reports_delivery_and_serves_the_pdf_to_the_people_running_the_case(
    configured: Settings, signed_in: Callable[[str], TestClient]
) -> None:
    url = configured.database_url
    add_families(url)
    case_id = make_case(url)
    send(case_id)
    [printed] = print_files(url, case_id)

    dsl = signed_in("dsl@oakfield.example")
    page = dsl.get(f"/cases/{case_id}")
    assert "Letter to parents" in page.text
    assert "All 51 sent on" in page.text, "signing in ran the sender"
    assert "3 letters go by post" in page.text and "0 printed so far" in page.text
    download = dsl.get(f"/cases/{case_id}/print/{printed.id}")
    assert download.status_code == 200
    assert download.headers["content-type"] == "application/pdf"
    assert download.headers["content-disposition"].startswith("attachment")
    assert download.content == letter_files().path(printed.stored_name).read_bytes()
    marked = dsl.post(
        f"/cases/{case_id}/print/{printed.id}/printed",
        data={"csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert marked.status_code == 303
    assert "3 printed so far" in dsl.get(f"/cases/{case_id}").text
    assert "letter.print_downloaded" in audit_kinds(url, case_id)
    assert "letter.printed" in audit_kinds(url, case_id)

    # The member of staff who reported sees the case but not parents' addresses.
    dsl.cookies.clear()
    reporter = signed_in(REPORTER)
    page = reporter.get(f"/cases/{case_id}")
    assert page.status_code == 200 and "Letter to parents" not in page.text
    assert reporter.get(f"/cases/{case_id}/print/{printed.id}").status_code == 403
    refused = reporter.post(
        f"/cases/{case_id}/print/{printed.id}/printed",
        data={"csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert refused.status_code == 403

    reporter.cookies.clear()
    other = signed_in("tom.byrne@oakfield.example")
    assert other.get(f"/cases/{case_id}/print/{printed.id}").status_code == 404


def test_every_name_and_account_in_the_case_details_is_checked() -> None:
    details = {
        "pupil_name": "Jordan Miles",
        "pupil_account": "@jm_2014",
        "pupil_year_group": "Year 6",
        "others": [{"parent_name": "Kai Burke"}, {"witness_names": ["Lou Park", ""]}],
    }
    assert [(p.who, p.name) for p in names_in_details(details)] == [
        ("the pupil", "Jordan Miles"),
        ("the pupil's account", "@jm_2014"),
        ("a person recorded in the case (parent name)", "Kai Burke"),
        ("a person recorded in the case (witness names)", "Lou Park"),
    ]
