"""Answers that reach outside the school need the link AND a code from a second email."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from core.enums import IncidentType, StepKey
from core.settings import Settings
from db.models import Approval, DecisionCode, OutboxMessage, utcnow
from db.session import transaction
from forms.tasks import DECISIONS, TASK_FORMS
from mail.catcher import MailStore
from services.confirmation import MOST_ATTEMPTS, check_code
from tests.support import count, csrf_of, emailed_code, mail_to, make_approval, make_case

HEAD = "head@oakfield.example"
LINK = "/approvals/{}"


def decision_of(url: str, case_id: int, step_key: str = "approve_parent_letter") -> str | None:
    with transaction(url) as session:
        approval = session.query(Approval).filter_by(case_id=case_id, step_key=step_key).one()
        return approval.decision.value if approval.decision else None


@dataclass
class Letter:
    """The letter to parents waiting on the head, whose decision page is open in `client`."""

    client: TestClient
    url: str
    case_id: int
    link: str
    html: str
    mail: MailStore
    deliver: Callable[[], int]

    def code(self) -> str:
        """Press "Email me a confirmation code" and read the code from the email."""
        return emailed_code(self.client, self.link, self.html, self.mail, HEAD, self.deliver)

    def approve(self, code: str = "") -> tuple[int, str]:
        answer = self.client.post(
            self.link,
            data={
                "decision": "approved",
                "reason": "",
                "code": code,
                "csrf_token": csrf_of(self.html),
            },
        )
        return answer.status_code, answer.text

    def decision(self) -> str | None:
        return decision_of(self.url, self.case_id)


@pytest.fixture
def letter(
    client: TestClient,
    configured: Settings,
    smtp: tuple[MailStore, int],
    deliver: Callable[[], int],
) -> Letter:
    url = configured.database_url
    case_id = make_case(url)
    link = LINK.format(make_approval(url, case_id))
    page = client.get(link)
    assert page.status_code == 200 and "Email me a confirmation code" in page.text
    return Letter(client, url, case_id, link, page.text, smtp[0], deliver)


def test_approving_the_letter_without_a_code_records_nothing_and_says_what_to_do(
    letter: Letter,
) -> None:
    status, text = letter.approve()
    assert status == 400
    assert "There is a problem" in text and 'href="#code"' in text
    assert "Press &#39;Email me a confirmation code&#39;" in text
    assert re.search(r'<label[^>]* for="code">Confirmation code</label>', text)
    assert letter.decision() is None
    assert count(letter.url, OutboxMessage, OutboxMessage.kind == "parent_letter") == 0
    assert letter.client.get(letter.link).status_code == 200, "the link still works"


def test_the_emailed_code_records_the_approval_once(letter: Letter) -> None:
    since = len(letter.mail.ids())
    code = letter.code()
    mail = mail_to(letter.mail, HEAD, "confirmation code", since=since)
    assert mail.links == [] and "/approvals/" not in mail.raw, "the code email has no link"
    with transaction(letter.url) as session:
        stored = session.query(DecisionCode).one()
        assert code not in stored.code_hash and len(stored.code_hash) == 64
    status, text = letter.approve(code)
    assert status == 200 and "Your answer is recorded" in text
    assert letter.decision() == "approved"
    assert letter.approve(code)[0] == 410


def test_a_wrong_code_is_refused_and_too_many_wrong_codes_stop_the_right_one(
    letter: Letter,
) -> None:
    code = letter.code()
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    status, text = letter.approve("12ab")
    assert status == 400 and "The confirmation code is 6 digits" in text
    status, text = letter.approve(wrong)
    assert status == 400 and "That code is not right" in text
    for _ in range(MOST_ATTEMPTS - 1):
        letter.approve(wrong)
    status, text = letter.approve(code)
    assert status == 400 and "tried too many times" in text
    assert letter.decision() is None
    assert letter.approve(letter.code())[0] == 200


def test_an_expired_or_replaced_code_is_refused(letter: Letter) -> None:
    first, second = letter.code(), letter.code()
    if first != second:  # only the newest code works
        status, text = letter.approve(first)
        assert status == 400 and "newest confirmation code email" in text
    with transaction(letter.url) as session:
        session.execute(update(DecisionCode).values(expires_at=utcnow() - timedelta(seconds=1)))
    status, text = letter.approve(second)
    assert status == 400 and "codes work once and for 15 minutes" in text
    assert letter.decision() is None


def test_a_code_works_once(letter: Letter) -> None:
    code = letter.code()
    for expected in ("", "no confirmation code waiting"):
        with transaction(letter.url) as session:
            approval = session.query(Approval).filter_by(case_id=letter.case_id).one()
            assert expected in check_code(session, approval, code)
    assert letter.approve(code)[0] == 400
    assert letter.decision() is None


def test_a_rejection_needs_no_code(letter: Letter) -> None:
    done = letter.client.post(
        letter.link,
        data={"decision": "rejected", "reason": "Too soon.", "csrf_token": csrf_of(letter.html)},
    )
    assert done.status_code == 200 and "Your answer is recorded" in done.text
    assert letter.decision() == "rejected"


@pytest.mark.parametrize(
    ("step", "choice"), [(StepKey.POLICE_DECISION, "refer"), (StepKey.NEXT_ACTION, "police")]
)
def test_referring_to_the_police_needs_a_code_and_not_referring_does_not(
    client: TestClient, configured: Settings, step: StepKey, choice: str
) -> None:
    url = configured.database_url
    case_id = make_case(url, IncidentType.ONLINE_ABUSE)
    link = LINK.format(make_approval(url, case_id, step_key=step))
    page = client.get(link)
    answer = {"reason": "Threats continue.", "csrf_token": csrf_of(page.text)}
    refused = client.post(link, data={**answer, "decision": choice})
    assert refused.status_code == 400 and "needs a confirmation code" in refused.text
    assert decision_of(url, case_id, step) is None
    other = next(str(v) for v, _ in DECISIONS[step].options if v != choice)
    assert client.post(link, data={**answer, "decision": other}).status_code == 200
    assert decision_of(url, case_id, step) == other


def test_asking_for_codes_is_limited(letter: Letter) -> None:
    ask = {"action": "send_code", "csrf_token": csrf_of(letter.html)}
    asks = [letter.client.post(letter.link, data=ask) for _ in range(6)]
    assert [a.status_code for a in asks] == [200] * 5 + [429]
    assert "the most we send" in asks[-1].text
    assert count(letter.url, DecisionCode) == 5


def test_no_option_is_chosen_in_advance_on_any_step_page(
    client: TestClient, configured: Settings
) -> None:
    url = configured.database_url
    pupil, abuse = make_case(url), make_case(url, IncidentType.ONLINE_ABUSE)
    for step in [*DECISIONS, *TASK_FORMS]:
        case_id = pupil if step in (StepKey.RECORD_PERSISTENCE,) else abuse
        if step in (StepKey.SAFEGUARDING_REVIEW, StepKey.INVESTIGATE):
            case_id = make_case(url, IncidentType.STAFF_CONDUCT)
        token = make_approval(url, case_id, step_key=step)
        route = "approvals" if step in DECISIONS else "tasks"
        page = client.get(f"/{route}/{token}")
        assert page.status_code == 200, (step, page.text)
        assert not re.search(r"<input[^>]*\bchecked\b", page.text), step
