"""Addresses a person can type: numbers no row can have, and documents a case does not have."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from core.settings import Settings
from tests.support import make_case

HEAD = "head@oakfield.example"
TOO_BIG = str(2**63)  # past any id a database can store
PAST_INTEGER = str(2**31)  # one past PostgreSQL's integer, the type of every id column


@pytest.mark.parametrize(
    "path",
    [
        f"/cases/{TOO_BIG}",
        f"/api/cases/{TOO_BIG}",
        f"/cases/1/evidence/{TOO_BIG}",
        f"/cases/{TOO_BIG}/evidence/1",
        f"/cases/1/print/{TOO_BIG}",
        f"/cases/{TOO_BIG}/packs/hr",
        f"/cases/{TOO_BIG}/letters/meeting-invitation",
        f"/cases/{TOO_BIG}/audit.json",
        f"/cases/{PAST_INTEGER}",
        f"/api/cases/{PAST_INTEGER}",
        f"/cases/1/evidence/{PAST_INTEGER}",
        f"/cases/1/print/{PAST_INTEGER}",
        "/cases/99999999999999999999999999999999",
        "/cases/0",
        "/cases/-1",
        "/api/cases/-5",
    ],
)
def test_a_number_no_case_can_have_is_not_found(
    signed_in: Callable[[str], TestClient], configured: Settings, path: str
) -> None:
    make_case(configured.database_url)
    client = signed_in(HEAD)
    answer = client.get(path)
    assert answer.status_code == 404, answer.text
    if path.startswith("/api/"):
        assert "not a number in use here" in answer.json()["error"]["message"]
    else:
        assert "Page not found" in answer.text and "not a number in use here" in answer.text


def test_posting_to_a_number_no_case_can_have_is_not_found(
    signed_in: Callable[[str], TestClient], configured: Settings
) -> None:
    client = signed_in(HEAD)
    answer = client.post(f"/cases/{TOO_BIG}/procedure/restart", data={"csrf_token": "x"})
    assert answer.status_code == 404 and "not a number in use here" in answer.text


def test_a_case_with_no_meeting_has_no_invitation_to_print(
    signed_in: Callable[[str], TestClient], configured: Settings
) -> None:
    case_id = make_case(configured.database_url)  # a pupil contacting staff: no meeting step
    client = signed_in(HEAD)
    for name in ("meeting-invitation", "meeting-invitation.pdf"):
        answer = client.get(f"/cases/{case_id}/letters/{name}")
        assert answer.status_code == 404, answer.text
        assert "This case has no meeting invitation" in answer.text
    assert client.get(f"/cases/{case_id}").status_code == 200, "the case itself is still there"


def test_a_meeting_that_was_not_needed_has_no_invitation_to_print(
    signed_in: Callable[[str], TestClient], configured: Settings
) -> None:
    from db.cases import finish_step
    from db.models import IncidentType
    from db.session import transaction

    url = configured.database_url
    case_id = make_case(url, IncidentType.ONLINE_ABUSE)
    client = signed_in(HEAD)
    assert client.get(f"/cases/{case_id}/letters/meeting-invitation").status_code == 404
    with transaction(url) as session:
        finish_step(session, case_id, "invite_to_meeting", skipped=True, outcome="not needed")
    answer = client.get(f"/cases/{case_id}/letters/meeting-invitation")
    assert answer.status_code == 404 and "This case has no meeting invitation" in answer.text
