"""A case whose procedure stopped says so, and the head or DSL can run it again."""

from __future__ import annotations

from collections.abc import Callable
from uuid import uuid4

from fastapi.testclient import TestClient

from core.settings import Settings
from db.audit import record_event
from db.models import Case, CaseStatus, Person
from db.session import transaction
from tests.support import audit_kinds, csrf_of, make_case

DSL = "dsl@oakfield.example"
BANNER = "This case's procedure has stopped"


def stopped_case(url: str, message: str = "Flow run encountered an exception: SMTP") -> int:
    case_id = make_case(url)
    with transaction(url) as session:
        case = session.get(Case, case_id)
        assert case is not None
        case.flow_run_id = str(uuid4())
        record_event(
            session,
            case_id=case_id,
            kind="flow.stopped",
            data={"flow_run_id": case.flow_run_id, "state": "failed", "message": message},
        )
    return case_id


def reporter_email(url: str, case_id: int) -> str:
    with transaction(url) as session:
        case = session.get(Case, case_id)
        assert case is not None
        return str(session.get(Person, case.reporter_id).email)  # type: ignore[union-attr]


def test_the_case_page_says_the_procedure_stopped_and_who_can_restart_it(
    signed_in: Callable[[str], TestClient], configured: Settings
) -> None:
    url = configured.database_url
    case_id = stopped_case(url, "Flow run encountered an exception: <b>boom</b>")
    staff = signed_in(reporter_email(url, case_id)).get(f"/cases/{case_id}")
    assert BANNER in staff.text
    assert "&lt;b&gt;boom&lt;/b&gt;" in staff.text, "the server's words, escaped"
    assert "Run the procedure again" not in staff.text
    assert "designated safeguarding lead can run it again" in staff.text

    dsl = signed_in(DSL).get(f"/cases/{case_id}")
    assert BANNER in dsl.text and "Run the procedure again" in dsl.text


def test_the_case_list_marks_stopped_procedures_until_they_run_again(
    signed_in: Callable[[str], TestClient], configured: Settings
) -> None:
    url = configured.database_url
    running, stopped = make_case(url), stopped_case(url)
    client = signed_in(DSL)
    rows = {
        line.split("/cases/")[1].split('"')[0]: line
        for line in client.get("/").text.split("<tr>")
        if "/cases/" in line
    }
    assert "procedure stopped" in rows[str(stopped)]
    assert "procedure stopped" not in rows[str(running)]
    with transaction(url) as session:
        record_event(session, case_id=stopped, kind="flow.restarted", data={"after": "test"})
    assert "procedure stopped" not in client.get("/").text


def test_staff_cannot_restart_and_an_unreachable_prefect_changes_nothing(
    signed_in: Callable[[str], TestClient], configured: Settings
) -> None:
    url = configured.database_url
    case_id = stopped_case(url)
    client = signed_in(reporter_email(url, case_id))
    page = client.get(f"/cases/{case_id}")
    refused = client.post(
        f"/cases/{case_id}/procedure/restart", data={"csrf_token": csrf_of(page.text)}
    )
    assert refused.status_code == 403
    assert "you cannot work on this case" in refused.text

    client = signed_in(DSL)
    page = client.get(f"/cases/{case_id}")
    # The test process points Prefect's client at a closed port (see tests/conftest.py).
    down = client.post(
        f"/cases/{case_id}/procedure/restart", data={"csrf_token": csrf_of(page.text)}
    )
    assert down.status_code == 503
    assert "could not be reached" in down.text and "Nothing has changed" in down.text
    assert "flow.restarted" not in audit_kinds(url, case_id)
    assert BANNER in client.get(f"/cases/{case_id}").text


def test_only_a_stopped_open_case_can_be_restarted(
    signed_in: Callable[[str], TestClient], configured: Settings
) -> None:
    url = configured.database_url
    running = make_case(url)
    closed = stopped_case(url)
    with transaction(url) as session:
        session.get(Case, closed).status = CaseStatus.CLOSED  # type: ignore[union-attr]
    client = signed_in(DSL)
    page = client.get(f"/cases/{closed}")
    assert BANNER not in page.text, "a closed case has nothing left to run"
    for case_id in (running, closed):
        answer = client.post(
            f"/cases/{case_id}/procedure/restart", data={"csrf_token": csrf_of(page.text)}
        )
        assert answer.status_code == 409
        assert "nothing to restart" in answer.text
