"""A request's page shows what the decision needs: the report in words, the evidence the
person asked may open (through the link itself when they are not signed in), the packs, and
a way to the case."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlalchemy import select

from core.enums import AuditKind, IncidentType
from core.settings import Settings
from db.models import AuditEvent
from db.session import transaction
from tests.pictures import sideways_photo
from tests.support import case_with_photo, make_approval

HEAD = "head@oakfield.example"
STAFF = "tom.byrne@oakfield.example"


PHOTO = sideways_photo()


def with_photo(url: str) -> tuple[int, int]:
    return case_with_photo(url, IncidentType.ONLINE_ABUSE, PHOTO)


def views_via_link(url: str, case_id: int) -> list[dict[str, object]]:
    with transaction(url) as session:
        found = session.scalars(
            select(AuditEvent).where(
                AuditEvent.case_id == case_id, AuditEvent.kind == AuditKind.EVIDENCE_VIEWED
            )
        )
        return [dict(e.data) for e in found if e.data.get("via") == "link"]


def test_the_head_decides_the_police_question_seeing_the_report_and_the_evidence(
    client: TestClient, configured: Settings
) -> None:
    url = configured.database_url
    case_id, evidence_id = with_photo(url)
    token = make_approval(url, case_id, step_key="police_decision")

    page = client.get(f"/approvals/{token}")  # opened from the email, not signed in

    assert page.status_code == 200
    assert "What was reported" in page.text and "the-post.jpg" in page.text
    assert f'src="/approvals/{token}/evidence/{evidence_id}/preview"' in page.text
    assert f'href="/cases/{case_id}"' in page.text, "a way to the case for the head"
    assert "Hide this page" in page.text
    shown = client.get(f"/approvals/{token}/evidence/{evidence_id}/preview")
    assert shown.status_code == 200 and shown.headers["content-type"] == "image/webp"
    original = client.get(f"/approvals/{token}/evidence/{evidence_id}")
    assert original.status_code == 200 and original.content == PHOTO
    assert [v.get("preview") for v in views_via_link(url, case_id)] == ["thumb", None]


def test_the_link_opens_no_file_of_another_case_and_nothing_once_it_is_used(
    client: TestClient, configured: Settings, signed_in: Callable[[str], TestClient]
) -> None:
    url = configured.database_url
    case_id, _ = with_photo(url)
    _, elsewhere = with_photo(url)
    token = make_approval(url, case_id, step_key="police_decision")

    other_case = client.get(f"/approvals/{token}/evidence/{elsewhere}")
    assert other_case.status_code == 404 and "not part of this case" in other_case.text
    bad_token = client.get(f"/approvals/{token}x/evidence/{elsewhere}")
    assert bad_token.status_code == 404

    someone_else = signed_in(STAFF).get(f"/approvals/{token}/evidence/{elsewhere}")
    assert someone_else.status_code == 403, "a link works only for the person it was sent to"
