"""A local authority's day, with machines failing: issue 13's multi-process test.

Prefect's server and Casework on PostgreSQL; two runners, two workers (outbox sender and
reconciler) and two web processes (tests/e2e/authority.py). Fifty cases of all four kinds
are reported at once through both web processes and driven to their end through their
emails, as the people they ask would, while one runner is SIGKILLed mid-run (its flow runs
are left RUNNING: found by their missing heartbeats and run again) and one sender is
SIGKILLed during a letter to every parent (started again under the same name; its rows go
out, from its own journal or once their lease has run out). Then: every case closed, no
email twice (bar what SMTP cannot avoid: one per open connection of the killed sender, for
the letter it was sending), no step done twice, and the audit trail verifies.

Runs only against PostgreSQL (CASEWORK_TEST_POSTGRES_URL, as CI sets it).
"""

from __future__ import annotations

import subprocess
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from db.approvals import by_token
from db.models import (
    AuditEvent,
    Case,
    CaseStatus,
    CaseStep,
    OutboxMessage,
    OutboxStatus,
    Person,
    StepStatus,
)
from db.session import transaction
from tests.conftest import PG_ADMIN_URL
from tests.e2e.authority import CASEWORK, SMTP_CONNECTIONS, Authority
from tests.e2e.flow_helpers import CONFIRMED
from tests.support import (
    PNG,
    case_id_of,
    csrf_of,
    emailed_code,
    report_fields,
    send_report,
    signin,
    wait_until,
)

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("authority")]

CASES = 50
PARENTS = 300  # the letter to all parents: enough to kill a sender in the middle of it
HEAD = "head@oakfield.example"
REPORTER = "amy.fletcher@oakfield.example"
COLLEAGUE_ID = "sara.novak@oakfield.example"
TUNING = {
    # Each sender sends at most 20 messages a second: the letter takes long enough for a
    # sender to be killed during it, and each claims 200 rows of it at a time.
    "CASEWORK_SMTP_RATE_PER_MINUTE": "1200",
    # Until a restarted sender recovers its own rows from its journal, the other one takes
    # them over once their lease has run out.
    "CASEWORK_OUTBOX_STALE_SENDING_SECONDS": "10",
    "CASEWORK_OUTBOX_BACKOFF_SECONDS": "0.5",
    # Prefect's shortest heartbeat; a run silent for two of them has lost its process.
    "CASEWORK_FLOW_HEARTBEAT_SECONDS": "30",
    "CASEWORK_FLOW_SILENT_HEARTBEATS": "2",
    "CASEWORK_RUNNER_LIMIT": "4",
}
SCREENSHOT = [("screenshot.png", PNG + b"authority", "image/png")]

REPORTS: dict[str, dict[str, Any]] = {
    "pupil_contact": report_fields(),
    "parent_contact": {
        "platform": "facebook",
        "occurred_at": "2026-11-21T19:40",
        "description": "A parent sent me a friend request and a message about homework.",
        "sexual_images": "no",
        "parent_name": "Chris Walsh",
        "child_year_group": "Year 4",
        "contact_kind": "friend_request",
        "responded": "no",
    },
    "online_abuse": {
        "platform": "instagram",
        "occurred_at": "2026-11-19T20:15",
        "description": "An account posted a photo of me with abusive comments underneath.",
        "sexual_images": "no",
        "target": "me",
        "links": "https://instagram.example/p/abc123",
        "content_kinds": ["other"],
        "responsible": "unknown",
        "still_online": "yes",
    },
    "staff_conduct": {
        "platform": "instagram",
        "occurred_at": "2026-11-22T23:40",
        "description": "A colleague messaged a pupil late at night from a private account.",
        "sexual_images": "no",
        "concern_kind": "contact_with_pupils",
        "child_at_risk": "no",
        "subject_account": "",
    },
}

# What each person asked answers, chosen to keep each procedure short.
DECLINE = "Only a few families could have seen it; a letter would spread it further."
ANSWERS: dict[str, dict[str, str]] = {
    "record_persistence": {"pupil_persisted": "no", "reminder_given": "yes", "notes": "Spoke."},
    "record_discipline": {"outcome": "mediation", "notes": "Restorative conversation."},
    "approve_parent_letter": {"decision": "rejected", "reason": DECLINE},
    "report_to_platform": {"platform_reference": "IG-558120", "notes": ""},
    "platform_response": {"response": "removed", "notes": ""},
    "record_resolution": {"resolution": "resolved", "reason": "The material is down."},
    "investigate": {
        "findings": "The messages were sent from a private account.",
        "breach_found": "yes",
        "child_may_be_at_risk": "no",
    },
    "record_hr_advice": {"advice": "A written reminder of the policy.", "adviser": "Priya Shah"},
    "staff_outcome": {"decision": "advice", "reason": "HR advises guidance."},
}
APPROVE = {"decision": "approved", "reason": ""}


# How many of each kind: all four, most of them the shortest procedure (one answer), so
# fifty cases fit in the suite's time; the first pupil contact case sends the letter.
MIX = {"pupil_contact": 6, "parent_contact": 32, "online_abuse": 6, "staff_conduct": 6}


def kinds() -> list[str]:
    """The fifty cases' kinds, interleaved; the first is the pupil contact whose letter goes."""
    left = dict(MIX)
    order: list[str] = []
    while any(left.values()):
        for slug in MIX:
            if left[slug]:
                order.append(slug)
                left[slug] -= 1
    assert len(order) == CASES
    return order


@pytest.fixture
def authority(tmp_path: Path) -> Any:
    if not PG_ADMIN_URL:
        pytest.skip(
            "the local authority's set-up runs on PostgreSQL only: set "
            "CASEWORK_TEST_POSTGRES_URL (CI does)"
        )
    system = Authority(tmp_path, PG_ADMIN_URL, PARENTS, TUNING)
    try:
        system.start()
        yield system
    finally:
        system.stop()


class People:
    """Everyone a case asks, answering each emailed link as it arrives, several at once."""

    def __init__(self, system: Authority, letter_case: Callable[[], int]) -> None:
        self.system = system
        self.letter_case = letter_case
        self.seen: set[str] = set()
        self.message_ids: Counter[str] = Counter()  # every message caught, by Message-ID
        self.answered: set[str] = set()
        self.pool = ThreadPoolExecutor(8)
        self.busy: list[Future[None]] = []

    def look(self) -> None:
        """Answer every request link in mail that arrived since the last look."""
        for mail_id in self.system.mail.ids():
            if mail_id in self.seen:
                continue
            self.seen.add(mail_id)
            mail = self.system.mail.get(mail_id)
            if mail is None:
                continue
            self.message_ids[mail.message_id] += 1
            for link in mail.links:
                if ("/tasks/" in link or "/approvals/" in link) and link not in self.answered:
                    self.answered.add(link)
                    self.busy.append(self.pool.submit(self.answer, link))
        for done in [f for f in self.busy if f.done()]:
            self.busy.remove(done)
            done.result()  # an answer that failed fails the test, with its reason

    def answer(self, link: str) -> None:
        token = link.rstrip("/").rsplit("/", 1)[1].split("?")[0]
        with transaction(self.system.db_url) as session:
            approval = by_token(session, token)
            if approval is None:
                return  # a link that was replaced by another
            step, case_id = approval.step_key, approval.case_id
        answers = APPROVE if case_id == self.letter_case() and step in ANSWERS_WITH_LETTER else {}
        answers = answers or ANSWERS[step]
        with httpx.Client(timeout=60) as browser:
            page = browser.get(link)
            assert page.status_code == 200, f"{step}: {page.text[:500]}"
            if answers.get("decision") in CONFIRMED:
                code = emailed_code(browser, link, page.text, self.system.mail, HEAD)
                answers = {**answers, "code": code}
            sent = browser.post(link, data={**answers, "csrf_token": csrf_of(page.text)})
        assert sent.status_code == 200, f"{step}: {sent.text[:500]}"

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


ANSWERS_WITH_LETTER = {"approve_parent_letter"}


def report_all(system: Authority) -> list[int]:
    """Report every case at once, through both web processes; returns the case ids."""
    browsers = [httpx.Client(base_url=url, timeout=60) for url in system.web_urls]
    try:
        for browser in browsers:
            signin(browser, REPORTER, system.mail)
        with transaction(system.db_url) as session:
            colleague = session.scalars(select(Person.id).where(Person.email == COLLEAGUE_ID)).one()

        def report(n: int, slug: str) -> int:
            fields = dict(REPORTS[slug])
            if slug == "staff_conduct":
                fields["subject_id"] = str(colleague)
            files = [] if slug == "staff_conduct" else SCREENSHOT
            answer = send_report(browsers[n % 2], slug, fields, files)
            assert answer.status_code == 303, answer.text[:500]
            return case_id_of(answer)

        with ThreadPoolExecutor(8) as pool:
            return list(pool.map(report, range(CASES), kinds()))
    finally:
        for browser in browsers:
            browser.close()


def open_cases(url: str, ids: list[int]) -> int:
    with transaction(url) as session:
        found = session.scalars(
            select(Case.id).where(Case.id.in_(ids), Case.status != CaseStatus.CLOSED)
        )
        return len(list(found))


def letter_message_ids(url: str, case_id: int) -> set[str]:
    with transaction(url) as session:
        rows = session.scalars(
            select(OutboxMessage.message_id).where(
                OutboxMessage.case_id == case_id, OutboxMessage.kind == "parent_letter"
            )
        )
        return set(rows)


def test_fifty_cases_survive_a_killed_runner_and_a_killed_sender(authority: Authority) -> None:
    system = authority
    started = time.monotonic()
    ids: list[int] = []
    people = People(system, lambda: ids[0] if ids else -1)
    killed_runner_with: list[int] = []
    letter_ids: set[str] = set()
    sender_killed_at = -1
    try:
        ids.extend(report_all(system))
        print(f"\n{CASES} cases reported in {time.monotonic() - started:.1f} s")
        deadline = time.monotonic() + 540
        next_note = 0.0
        # Until every case is closed and the sender has been killed during the letter (the
        # letter's case may be the last to close: its letter goes out after that).
        while (
            (left := open_cases(system.db_url, ids)) or sender_killed_at < 0
        ) and time.monotonic() < deadline:
            people.look()
            if time.monotonic() > next_note:
                next_note = time.monotonic() + 10
                at = time.monotonic() - started
                print(f"{at:5.0f} s: {left} cases open, {len(people.seen)} emails caught")
            if not killed_runner_with and "runner-a" in system.procs:
                running = system.flow_run_processes("runner-a")
                if running:
                    system.kill("runner-a")  # mid-run: its runs stay RUNNING in Prefect
                    killed_runner_with = running
                    print(f"runner-a killed with {len(running)} flow run(s) in hand")
                    # Its service manager starts it again; that does not recover its runs.
                    system.start_runner("runner-a")
            if sender_killed_at < 0:
                letter_ids = letter_ids or letter_message_ids(system.db_url, ids[0])
                got = sum(people.message_ids[mid] for mid in letter_ids)
                if got >= 40:
                    system.kill("worker-a")
                    sender_killed_at = got
                    print(f"worker-a killed after {got} of {len(letter_ids)} letters")
                    system.start_worker("worker-a")  # the same name: its own rows again
            time.sleep(0.2)
        still_open = open_cases(system.db_url, ids)
        assert not still_open, f"{still_open} cases still open\n{system.logs()}"
    finally:
        people.close()
    elapsed = time.monotonic() - started

    # A case closes once its letter is queued; the killed sender's share of it goes out once
    # its lease has run out (or at once, from the restarted sender's journal).
    wait_until(lambda: not unsent(system.db_url, ids), 120, 0.5, "the outbox to empty")
    time.sleep(1)  # a duplicate would arrive right behind the last message
    caught = system.mail.all()
    counts = Counter(m.message_id for m in caught)
    twice = {mid: n for mid, n in counts.items() if n > 1}
    letter_twice = sum(n - 1 for mid, n in twice.items() if mid in letter_ids)
    other_twice = sum(n - 1 for mid, n in twice.items() if mid not in letter_ids)
    restarted = restarts(system.db_url, ids)
    print(system.cpu_seconds())
    print(
        f"{CASES} cases closed in {elapsed:.1f} s; {len(caught)} emails caught, "
        f"{len(counts)} distinct; letter: {len(letter_ids)} to parents, "
        f"{letter_twice} sent twice; other emails sent twice: {other_twice}; "
        f"flow runs restarted: {len(restarted)} ({Counter(restarted)})"
    )

    assert killed_runner_with, "the runner was killed while it ran a flow"
    assert sender_killed_at > 0, "the sender was killed during the letter"
    assert letter_ids <= set(counts), "every parent got the letter"
    assert letter_twice <= SMTP_CONNECTIONS, "at most one per open connection of the sender"
    assert other_twice == 0, {mid: n for mid, n in twice.items() if mid not in letter_ids}
    assert "the run crashed" in restarted, "the killed runner's runs were found and run again"
    assert_each_step_once(system.db_url, ids)
    assert_every_email_sent(system.db_url, ids, set(counts))
    assert_audit_verifies(system)


def unsent(url: str, ids: list[int]) -> int:
    """How many emails of these cases are not sent yet."""
    with transaction(url) as session:
        rows = session.scalars(
            select(OutboxMessage.id).where(
                OutboxMessage.case_id.in_(ids), OutboxMessage.status != OutboxStatus.SENT
            )
        )
        return len(list(rows))


def restarts(url: str, ids: list[int]) -> list[str]:
    with transaction(url) as session:
        events = session.scalars(
            select(AuditEvent).where(
                AuditEvent.case_id.in_(ids), AuditEvent.kind == "flow.restarted"
            )
        )
        return [str(e.data["after"]) for e in events]


def assert_each_step_once(url: str, ids: list[int]) -> None:
    """Every step of every case settled, and recorded as done (or skipped) exactly once."""
    with transaction(url) as session:
        events = session.scalars(
            select(AuditEvent).where(
                AuditEvent.case_id.in_(ids),
                AuditEvent.kind.in_(["step.completed", "step.skipped"]),
            )
        )
        done = Counter((e.case_id, e.data["step"]) for e in events)
        steps = list(session.scalars(select(CaseStep).where(CaseStep.case_id.in_(ids))))
        started = Counter(
            session.scalars(
                select(AuditEvent.case_id).where(
                    AuditEvent.case_id.in_(ids), AuditEvent.kind == "flow.started"
                )
            )
        )
    assert {k: n for k, n in done.items() if n > 1} == {}, "a step was done twice"
    unsettled = [
        (s.case_id, s.key) for s in steps if s.status not in (StepStatus.DONE, StepStatus.SKIPPED)
    ]
    assert unsettled == []
    assert all(done[(s.case_id, s.key)] == 1 for s in steps), "each step recorded once"
    assert set(started) == set(ids) and set(started.values()) == {1}, "one run each"


def assert_every_email_sent(url: str, ids: list[int], caught: set[str]) -> None:
    with transaction(url) as session:
        rows = session.execute(
            select(OutboxMessage.message_id, OutboxMessage.status).where(
                OutboxMessage.case_id.in_(ids)
            )
        ).all()
    assert {status for _, status in rows} == {OutboxStatus.SENT}, Counter(s for _, s in rows)
    assert {mid for mid, _ in rows} <= caught


def assert_audit_verifies(system: Authority) -> None:
    """`casework audit verify`, as an auditor would run it."""
    proc = system.lifeline.spawn([*CASEWORK, "audit", "verify"], system.env(), subprocess.PIPE)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out.decode(errors="replace")
    assert b"Audit chain intact" in out
