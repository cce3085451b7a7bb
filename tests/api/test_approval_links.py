"""The emailed approval link: safe to open, single use, time-limited, and the approver's only."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from datetime import timedelta

import httpx
from fastapi.testclient import TestClient

from core.settings import Settings
from db.models import Approval, AuditEvent, CaseStep, StepStatus
from db.session import transaction
from mail.catcher import MailStore
from tests.support import (
    audit_kinds,
    csrf_of,
    emailed_code,
    link_in,
    mail_to,
    make_approval,
    make_case,
)


def approval_state(url: str, case_id: int) -> tuple[str | None, int]:
    """The stored decision and how many audit events the case has."""
    with transaction(url) as session:
        approval = session.query(Approval).filter_by(case_id=case_id).one()
        events = session.query(AuditEvent).filter_by(case_id=case_id).count()
        return (approval.decision.value if approval.decision else None), events


def test_opening_the_link_changes_nothing(client: TestClient, configured: Settings) -> None:
    url = configured.database_url
    case_id = make_case(url)
    token = make_approval(url, case_id)
    before = approval_state(url, case_id)
    for _ in range(3):  # a mail scanner, a preview pane, then the person
        page = client.get(f"/approvals/{token}")
        assert page.status_code == 200
        assert "Record my decision" in page.text and "parents and carers" in page.text
    assert approval_state(url, case_id) == before == (None, before[1])


def test_a_decision_is_recorded_once_and_the_link_then_says_so(
    client: TestClient,
    configured: Settings,
    smtp: tuple[MailStore, int],
    deliver: Callable[[], int],
) -> None:
    url = configured.database_url
    case_id = make_case(url)
    token = make_approval(url, case_id)
    page = client.get(f"/approvals/{token}")
    code = emailed_code(
        client, f"/approvals/{token}", page.text, smtp[0], "head@oakfield.example", deliver
    )
    done = client.post(
        f"/approvals/{token}",
        data={
            "decision": "approved",
            "reason": "Fine to send.",
            "code": code,
            "csrf_token": csrf_of(page.text),
        },
    )
    assert done.status_code == 200 and "Your answer is recorded" in done.text
    again = client.post(
        f"/approvals/{token}",
        data={
            "decision": "rejected",
            "reason": "Changed my mind.",
            "csrf_token": csrf_of(page.text),
        },
    )
    assert again.status_code == 410
    assert "This link has already been used" in again.text
    assert client.get(f"/approvals/{token}").status_code == 410
    assert approval_state(url, case_id)[0] == "approved"
    with transaction(url) as session:
        step = session.query(CaseStep).filter_by(case_id=case_id, key="approve_parent_letter").one()
        assert step.status == StepStatus.DONE and "Fine to send." in step.outcome


def test_an_expired_link_is_refused(client: TestClient, configured: Settings) -> None:
    url = configured.database_url
    token = make_approval(url, make_case(url), ttl=timedelta(seconds=-1))
    page = client.get(f"/approvals/{token}")
    assert page.status_code == 410 and "This link expired on" in page.text


def test_an_unknown_link_is_refused(client: TestClient) -> None:
    page = client.get("/approvals/not-a-real-token")
    assert page.status_code == 404 and "This link is not recognised" in page.text
    assert client.get("/tasks/not-a-real-token").status_code == 404


def test_someone_elses_session_cannot_use_the_link(
    signed_in: Callable[[str], TestClient], configured: Settings
) -> None:
    url = configured.database_url
    case_id = make_case(url)
    token = make_approval(url, case_id)
    client = signed_in("dsl@oakfield.example")
    page = client.get(f"/approvals/{token}")
    assert page.status_code == 403 and "sent to someone else" in page.text
    assert "Helen Okafor" not in page.text, "whom the link was sent to is not said"
    forced = client.post(
        f"/approvals/{token}", data={"decision": "approved", "csrf_token": csrf_of(page.text)}
    )
    assert forced.status_code == 403 and "Helen Okafor" not in forced.text
    assert approval_state(url, case_id)[0] is None


def test_twenty_concurrent_decisions_record_exactly_one(
    live_server: str, configured: Settings
) -> None:
    url = configured.database_url
    case_id = make_case(url)
    token = make_approval(url, case_id)
    link = f"{live_server}/approvals/{token}"
    with ExitStack() as stack:
        browsers = [stack.enter_context(httpx.Client(timeout=60)) for _ in range(20)]
        forms = [b.get(link) for b in browsers]
        assert all(f.status_code == 200 for f in forms)
        start = threading.Barrier(20)
        statuses: list[int] = []

        def press(browser: httpx.Client, page: httpx.Response, n: int) -> None:
            start.wait()
            answer = browser.post(
                link,
                data={
                    "decision": "rejected",
                    "reason": f"click {n}",
                    "csrf_token": csrf_of(page.text),
                },
            )
            statuses.append(answer.status_code)

        threads = [
            threading.Thread(target=press, args=(b, f, n))
            for n, (b, f) in enumerate(zip(browsers, forms, strict=True))
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    tally = Counter(statuses)
    assert tally[200] == 1 and tally[200] + tally[409] + tally[410] == 20, tally
    with transaction(url) as session:
        decided = (
            session.query(AuditEvent).filter_by(case_id=case_id, kind="approval.decided").count()
        )
    assert decided == 1


def test_the_dsl_can_send_a_new_link_when_one_expired(
    signed_in: Callable[[str], TestClient],
    configured: Settings,
    smtp: tuple[MailStore, int],
    deliver: Callable[[], int],
) -> None:
    url = configured.database_url
    case_id = make_case(url)
    old = make_approval(url, case_id, ttl=timedelta(seconds=-1))
    client = signed_in("dsl@oakfield.example")
    page = client.get(f"/cases/{case_id}")
    assert "Send a new link" in page.text
    sent = client.post(
        f"/cases/{case_id}/steps/approve_parent_letter/reissue",
        data={"csrf_token": csrf_of(page.text)},
    )
    assert sent.status_code == 200 and "A new link is on its way" in sent.text
    deliver()
    mail = mail_to(smtp[0], "head@oakfield.example", "your decision")
    assert "Jordan" not in mail.raw
    new_link = link_in(mail, "/approvals/")
    client.cookies.clear()  # the headteacher opens it in their own browser
    assert client.get(f"/approvals/{old}").status_code == 404, "the old link dies"
    assert client.get(new_link).status_code == 200
    assert "approval.reissued" in audit_kinds(url, case_id)


def test_staff_cannot_reissue_links(
    signed_in: Callable[[str], TestClient], configured: Settings
) -> None:
    url = configured.database_url
    case_id = make_case(url)
    make_approval(url, case_id)
    client = signed_in("amy.fletcher@oakfield.example")
    home = client.get("/")
    refused = client.post(
        f"/cases/{case_id}/steps/approve_parent_letter/reissue",
        data={"csrf_token": csrf_of(home.text)},
    )
    assert refused.status_code == 403
