"""A web app that cannot reach Prefect loses nothing: the worker's reconciler catches up."""

from __future__ import annotations

import os
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from core.settings import get_settings
from db.models import Approval
from tests.e2e.test_pupil_contact import (
    HEAD,
    REPORTER,
    UPLOADS,
    approval_mail,
    do_tasks,
    wait_closed,
)
from tests.stack import Stack
from tests.support import (
    case_id_of,
    case_row,
    count,
    csrf_of,
    emailed_code,
    link_in,
    signin,
    submit_report,
    wait_until,
)

pytestmark = pytest.mark.e2e


@pytest.fixture
def cut_off_web(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """The web app on the stack's database and files, with Prefect unreachable.

    The test process points Prefect's client at a closed port (see conftest), so every
    start or resume this app attempts fails as it would during an outage.
    """
    from api.app import create_app

    for key, value in {
        "CASEWORK_DATABASE_URL": stack.db_url,
        "CASEWORK_VAR_DIR": str(stack.root / "var"),
        "CASEWORK_BASE_URL": stack.base_url,
    }.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    with TestClient(create_app(), base_url=stack.base_url) as web:
        yield web
    get_settings.cache_clear()


def test_intake_and_approval_survive_a_prefect_outage(
    stack: Stack, cut_off_web: TestClient
) -> None:
    assert os.environ["PREFECT_API_URL"] == "http://127.0.0.1:9/api", "Prefect is unreachable"
    signin(cut_off_web, REPORTER, stack.mail)
    answer = submit_report(cut_off_web, UPLOADS)
    assert answer.status_code == 303, "the report is saved even though Prefect is unreachable"
    case_id = case_id_of(answer)
    case = case_row(stack.db_url, case_id)
    # Only the worker's hand-off can start this run; the tasks arriving prove it did.
    do_tasks(stack, case.reference)

    review = urlsplit(link_in(approval_mail(stack, case.reference), "/approvals/")).path
    cut_off_web.cookies.clear()  # the headteacher's own browser, not the reporter's session
    page = cut_off_web.get(review)
    code = emailed_code(cut_off_web, review, page.text, stack.mail, HEAD)
    done = cut_off_web.post(
        review,
        data={"decision": "approved", "reason": "", "code": code, "csrf_token": csrf_of(page.text)},
    )
    assert done.status_code == 200 and "Your answer is recorded" in done.text
    wait_closed(stack, case_id)
    delivered = wait_until(
        lambda: (
            count(
                stack.db_url, Approval, Approval.case_id == case_id, Approval.resumed_at.is_(None)
            )
            == 0
        ),
        30,
    )
    assert delivered
