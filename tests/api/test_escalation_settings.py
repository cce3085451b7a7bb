"""The school's escalation chains: shown with Casework's defaults, checked, saved, audited."""

from __future__ import annotations

import html
import re
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select

from core.settings import Settings
from db.models import AuditEvent, School
from db.session import transaction
from tests.support import csrf_of

DSL = "dsl@oakfield.example"
PAGE = "/admin/escalation"


def stored(url: str) -> dict[str, list[str]] | None:
    with transaction(url) as session:
        return session.scalars(select(School)).one().escalation_chains


def send(client: TestClient, **fields: str) -> tuple[int, str]:
    page = client.get(PAGE)
    answer = client.post(
        PAGE, data={**fields, "csrf_token": csrf_of(page.text)}, follow_redirects=False
    )
    return answer.status_code, re.sub(r"\s+", " ", html.unescape(answer.text))


def test_the_page_starts_from_the_defaults_and_refuses_a_muddled_chain(
    configured: Settings, signed_in: Callable[[str], TestClient]
) -> None:
    url = configured.database_url
    client = signed_in(DSL)
    page = client.get(PAGE).text
    assert "These are Casework's default chains" in html.unescape(page)
    assert '<option value="deputy_head" selected>' in page, "a head's step: deputy first"
    assert '<option value="chair_of_governors" selected>' in page

    status, text = send(client, chain_dsl_1="", chain_dsl_2="headteacher")
    assert status == 400 and "leave no empty place before this one" in text
    status, text = send(client, chain_dsl_1="headteacher", chain_dsl_2="headteacher")
    assert status == 400 and "Headteacher is already in the chain for the case lead's tasks" in text
    status, text = send(client, chain_headteacher_1="headteacher")
    assert status == 400 and "The headteacher's steps go to the headteacher first" in text
    status, text = send(client, chain_hr_1="parent")
    assert status == 400 and "Choose one of the roles in the list, or nobody." in text
    kept = send(client, chain_dsl_1="headteacher", chain_hr_1="x")[1]
    assert 'value="headteacher" selected' in kept, "what was chosen is kept"
    assert stored(url) is None, "nothing saved"

    client.cookies.clear()
    staff = signed_in("tom.byrne@oakfield.example")
    refused = staff.get(PAGE)
    assert refused.status_code == 403
    assert "change the school's settings" in html.unescape(refused.text)


def test_a_chain_is_saved_audited_and_can_go_back_to_the_defaults(
    configured: Settings, signed_in: Callable[[str], TestClient]
) -> None:
    url = configured.database_url
    client = signed_in(DSL)
    status, _ = send(
        client,
        chain_headteacher_1="chair_of_governors",
        chain_dsl_1="deputy_dsl",
        chain_dsl_2="headteacher",
    )
    assert status == 303
    assert stored(url) == {
        "headteacher": ["chair_of_governors"],
        "dsl": ["deputy_dsl", "headteacher"],
        "hr": [],
    }
    page = html.unescape(client.get(f"{PAGE}?saved=1").text)
    assert "Saved." in page and "These are the school's own chains." in page
    status, _ = send(client, reset="1")
    assert status == 303 and stored(url) is None
    with transaction(url) as session:
        changes = list(
            session.scalars(
                select(AuditEvent).where(AuditEvent.kind == "school.escalation_changed")
            )
        )
        assert [e.data["chains"]["dsl"] for e in changes] == [
            ["deputy_dsl", "headteacher"],
            ["headteacher", "chair_of_governors"],
        ]
        assert all(e.actor.startswith("Daniel Price") for e in changes)
