"""The case list filters by status, type, outcome and the days cases were opened on (UK
days), as an auditor reads the cases of a school; a filter it does not offer is a 400."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from core.enums import AuditKind, IncidentType, StepKey
from core.settings import Settings
from db.models import AuditEvent, Case, CaseStep, StepStatus
from db.session import transaction
from tests.support import SQLITE_ONLY, case_row, make_case

AUDITOR = "auditor@oakfield.example"


def opened_on(url: str, case_id: int, at: datetime, **changes: object) -> str:
    with transaction(url) as session:
        session.execute(update(Case).where(Case.id == case_id).values(opened_at=at, **changes))
    return case_row(url, case_id).reference


def listed(client: TestClient, query: str) -> str:
    response = client.get(f"/?{query}")
    assert response.status_code == 200, response.text
    return response.text


def test_the_list_filters_by_outcome_and_uk_days(
    signed_in: Callable[[str], TestClient], configured: Settings
) -> None:
    url = configured.database_url
    # 23:30 UTC on 30 September is 00:30 on 1 October in the UK (summer time).
    october = opened_on(url, make_case(url), datetime(2026, 9, 30, 23, 30, tzinfo=UTC))
    september = opened_on(
        url,
        make_case(url, IncidentType.STAFF_CONDUCT),
        datetime(2026, 9, 15, 9, 0, tzinfo=UTC),
        hr_escalated_at=datetime(2026, 9, 16, tzinfo=UTC),
    )
    lettered = make_case(url)
    letter = opened_on(url, lettered, datetime(2026, 10, 20, 9, 0, tzinfo=UTC))
    with transaction(url) as session:
        session.execute(
            update(CaseStep)
            .where(CaseStep.case_id == lettered, CaseStep.key == StepKey.SEND_PARENT_LETTER)
            .values(status=StepStatus.DONE)
        )
    auditor = signed_in(AUDITOR)

    in_october = listed(auditor, "from=2026-10-01&to=2026-10-31")
    assert october in in_october and letter in in_october and september not in in_october
    in_september = listed(auditor, "from=2026-09-01&to=2026-09-30")
    assert september in in_september and october not in in_september
    to_hr = listed(auditor, "outcome=hr")
    assert september in to_hr and october not in to_hr and letter not in to_hr
    letters = listed(auditor, "outcome=letter&from=2026-10-01")
    assert letter in letters and october not in letters
    assert 'value="2026-10-01"' in letters, "the form shows the days back"
    to_police = listed(auditor, "outcome=police")
    assert not any(reference in to_police for reference in (october, september, letter))
    with transaction(url) as session:  # each look the auditor took is in the school's trail
        looks = [
            event.data
            for event in session.scalars(select(AuditEvent).order_by(AuditEvent.seq))
            if event.kind == AuditKind.AUDIT_VIEWED and event.data["view"] == "case list"
        ]
    assert len(looks) == 5
    assert looks[0]["from"] == "2026-10-01" and sorted(looks[0]["cases"]) == sorted(
        [october, letter]
    )
    assert looks[2] == {"view": "case list", "outcome": "hr", "cases": [september]}


@SQLITE_ONLY  # the filter's checks: a refused filter never reaches the database
@pytest.mark.parametrize(
    ("query", "said"),
    [
        ("outcome=prison", "Choose an outcome from the list"),
        ("from=yesterday", "Give the first day opened as a date"),
        ("to=2026-13-40", "Give the last day opened as a date"),
        ("from=0001-01-01", "between the years 2000 and 2100"),
        ("to=9999-12-31", "between the years 2000 and 2100"),
        ("from=2026-10-02&to=2026-10-01", "on or after the first day"),
    ],
)
def test_a_filter_the_list_does_not_offer_is_explained(
    signed_in: Callable[[str], TestClient], configured: Settings, query: str, said: str
) -> None:
    response = signed_in(AUDITOR).get(f"/?{query}")
    assert response.status_code == 400
    assert said in response.text
