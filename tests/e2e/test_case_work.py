"""Working a case off its procedure on the real parts: My work, notes and late evidence,
withdrawal (the run is cancelled, no more mail) and reopening (the run carries on)."""

from __future__ import annotations

import hashlib
import re
import time

import httpx
import pytest

from db.models import CaseStatus
from tests.e2e.flow_helpers import wait_closed
from tests.e2e.test_pupil_contact import DSL, HEAD, fifty_letters, open_case
from tests.stack import Stack
from tests.support import PNG, case_row, csrf_of, link_in, mail_to, signin, wait_until

pytestmark = pytest.mark.e2e
RECORD_WHETHER = "please record – Record whether"
RECORD_OUTCOME = "please record – Record the outcome"


def my_work_item(person: httpx.Client, reference: str, title_part: str) -> str:
    """The My work address of the request on case `reference` whose title has `title_part`."""

    def find() -> str | None:
        page = person.get("/work").text
        for row in page.split("<tr>"):
            if reference in row and title_part in row:
                found = re.search(r'href="(/work/\d+)"', row)
                return found.group(1) if found else None
        return None

    return wait_until(find, 60, 0.5, f"{title_part!r} in My work")


def answer_in_app(person: httpx.Client, address: str, answers: dict[str, str]) -> None:
    form = person.get(address)
    assert form.status_code == 200, form.text
    done = person.post(address, data={**answers, "csrf_token": csrf_of(form.text)})
    assert done.status_code == 200 and "Your answer is recorded" in done.text, done.text


def act(person: httpx.Client, path: str, **answers: str) -> httpx.Response:
    """Send one of the case page's forms and follow it back to the case page."""
    form = person.get(path if path.endswith(("withdraw", "reopen")) else path.rsplit("/", 1)[0])
    sent = person.post(path, data={**answers, "csrf_token": csrf_of(form.text)})
    assert sent.status_code == 303, sent.text
    return person.get(sent.headers["location"])


def mail_about(stack: Stack, reference: str) -> int:
    return sum(reference in m.subject for m in stack.mail.all())


def test_a_case_worked_from_my_work_withdrawn_and_reopened(stack: Stack) -> None:
    if not stack.db_url.startswith("sqlite"):
        pytest.skip(
            "what is new here happens on the Prefect server; the queries behind My work, "
            "withdrawal and reopening run on both databases in tests/api/test_case_work.py"
        )
    case_id, _ = open_case(stack)
    case = case_row(stack.db_url, case_id)
    emailed = link_in(mail_to(stack.mail, DSL, f"{case.reference}: {RECORD_WHETHER}"), "/tasks/")
    with stack.client() as dsl:
        signin(dsl, DSL, stack.mail)
        # The first task, answered in the app: the emailed link then refuses.
        first = my_work_item(dsl, case.reference, "Record whether")
        answer_in_app(
            dsl, first, {"pupil_persisted": "yes", "reminder_given": "yes", "notes": "In class."}
        )
        assert httpx.get(emailed, timeout=30).status_code == 410

        # A note and a screenshot sent in later, on the case page with its fingerprint.
        act(dsl, f"/cases/{case_id}/notes", note="Form tutor told.")
        later = PNG + b"sent on later"
        sent = dsl.post(
            f"/cases/{case_id}/evidence/add",
            data={"csrf_token": csrf_of(dsl.get(f"/cases/{case_id}").text)},
            files=[("evidence", ("later.png", later, "image/png"))],
        )
        assert sent.status_code == 303, sent.text
        added = dsl.get(sent.headers["location"])
        assert hashlib.sha256(later).hexdigest() in added.text
        assert "Form tutor told." in added.text and "note.added" in added.text

        # Withdrawn while the second task waits: the run is cancelled, no more mail.
        mail_to(stack.mail, DSL, f"{case.reference}: {RECORD_OUTCOME}")
        run_id = case.flow_run_id or case_row(stack.db_url, case_id).flow_run_id or ""
        wait_until(lambda: stack.flow_run_state(run_id) == "PAUSED", 60, 0.5, "the run to wait")
        act(dsl, f"/cases/{case_id}/withdraw", reason="Reported by mistake.")
        wait_until(lambda: stack.flow_run_state(run_id) == "CANCELLED", 30, 0.5, "the cancel")
        before = mail_about(stack, case.reference)
        time.sleep(4)  # the worker and the runner each pass several times meanwhile
        assert mail_about(stack, case.reference) == before, "no mail after withdrawal"
        assert "Record the outcome" not in dsl.get("/work").text

        # Reopened: the run carries on from the step that was waiting, and finishes.
        act(dsl, f"/cases/{case_id}/reopen", reason="Not a mistake after all.", redo="")
        second = my_work_item(dsl, case.reference, "Record the outcome")
        answer_in_app(dsl, second, {"outcome": "mediation", "notes": "Talked it through."})
    with stack.client() as head:
        signin(head, HEAD, stack.mail)
        approval = my_work_item(head, case.reference, "letter")
        answer_in_app(head, approval, {"decision": "approved", "reason": "Send it."})
    wait_closed(stack, case_id)
    assert case_row(stack.db_url, case_id).status == CaseStatus.CLOSED
    assert len(fifty_letters(stack, case_id)) == 50
