"""Plain helpers that build test data and act as a person would (GET a page, POST its form)."""

from __future__ import annotations

import re
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pyotp
import pytest
from fastapi import FastAPI
from sqlalchemy import create_engine, func, select, text

from casework.run import Lifeline, wait_http
from core.files import evidence_files
from core.procedures import PROCEDURES, StepKind
from db.approvals import open_request
from db.cases import NewCase, mark_waiting, open_case
from db.evidence import add_evidence
from db.models import (
    ApprovalKind,
    AuditEvent,
    Case,
    IncidentType,
    Person,
    Role,
    utcnow,
)
from db.session import reading, transaction
from mail.catcher import MailStore, StoredMail
from tests.report_answers import reported

T = TypeVar("T")
# For tests of what the web layer does on its own (headers, same-origin checks, form
# validation, upload limits, rate limits, a browser's clicks): the database only stores
# what they make, through queries the tests on both backends already cover.
# tests/conftest.py runs a test so marked on SQLite alone.
SQLITE_ONLY = pytest.mark.web_only
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))
PDF = b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def production_app(monkeypatch: pytest.MonkeyPatch) -> FastAPI:
    """The app as it runs outside dev mode (with the secret key that mode demands)."""
    from api.app import create_app
    from core.settings import get_settings

    monkeypatch.setenv("CASEWORK_DEV_MODE", "false")
    monkeypatch.setenv("CASEWORK_SECRET_KEY", "a-long-random-production-secret-for-the-test")
    get_settings.cache_clear()
    return create_app()


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def wait_until(
    check: Callable[[], T | None],
    timeout: float = 60.0,
    interval: float = 0.2,
    what: str = "condition",
) -> T:
    """Poll `check` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


def mail_to(
    store: MailStore, address: str, subject_part: str, timeout: float = 60.0, since: int = 0
) -> StoredMail:
    """The newest message to `address` whose subject has `subject_part`, after the first `since`."""

    def find() -> StoredMail | None:
        for mail in reversed(store.all()[since:]):
            if address in mail.rcpt_tos and subject_part in mail.subject:
                return mail
        return None

    return wait_until(find, timeout, what=f"mail to {address} about {subject_part!r}")


def delivered(
    store: MailStore,
    address: str,
    subject_part: str,
    deliver: Callable[[], object] | None,
    since: int = 0,
    timeout: float = 60.0,
) -> StoredMail:
    """Like `mail_to`, sending the outbox while waiting when no worker runs: some emails are
    queued only after the answer has gone (a served app may not have queued them yet)."""

    def arrived() -> StoredMail | None:
        if deliver is not None:
            deliver()
        for mail in reversed(store.all()[since:]):
            if address in mail.rcpt_tos and subject_part in mail.subject:
                return mail
        return None

    return wait_until(arrived, timeout, what=f"mail to {address} about {subject_part!r}")


def link_in(mail: StoredMail, path_part: str) -> str:
    for link in mail.links:
        if path_part in link:
            return link
    raise AssertionError(f"no {path_part} link in {mail.subject!r}: {mail.links}")


def code_in(mail: StoredMail) -> str:
    """The six-digit confirmation code a decision-code email carries."""
    found = re.search(r"confirmation code is:\s+(\d{6})", mail.text)
    assert found, f"no confirmation code in {mail.subject!r}"
    return found.group(1)


def emailed_code(
    client: Any,
    link: str,
    html: str,
    store: MailStore,
    to: str,
    deliver: Callable[[], object] | None = None,
) -> str:
    """Press "Email me a confirmation code" on a decision page and read the code that comes.

    `deliver` sends the outbox when no worker process is running (in-process tests).
    """
    since = len(store.ids())
    sent = client.post(link, data={"action": "send_code", "csrf_token": csrf_of(html)})
    assert sent.status_code == 200 and "code is on its way" in sent.text, sent.text
    if deliver is not None:
        deliver()
    return code_in(mail_to(store, to, "confirmation code", since=since))


# Authenticator secrets the tests' people have enrolled, by site and email address, with the
# time step of the last code each used (a code works once).
AUTHENTICATORS: dict[tuple[str, str], tuple[str, int]] = {}
SECRET_SHOWN = re.compile(r'<code id="totp-secret">([A-Z2-7]+)</code>')


def authenticator_code(site: str, email: str, html: str) -> str:
    """The code a person's authenticator app would show: enrolling if the page shows a new
    secret, else from the secret they enrolled. Never a code of a step already used."""
    shown = SECRET_SHOWN.search(html)
    if shown:
        AUTHENTICATORS[(site, email)] = (shown.group(1), 0)
    secret, last = AUTHENTICATORS[(site, email)]
    step = max(int(time.time() // 30), last + 1)
    while step > int(time.time() // 30) + 1:  # the server takes one step ahead at most
        time.sleep(1)
    AUTHENTICATORS[(site, email)] = (secret, step)
    return pyotp.TOTP(secret).generate_otp(step)


def second_factor(client: Any, email: str, page: Any) -> Any:
    """Complete the second-factor page (enrolling if asked) like the person would."""
    code = authenticator_code(str(client.base_url), email.lower(), page.text)
    return client.post(
        "/second-factor",
        data={"csrf_token": csrf_of(page.text), "code": code},
        follow_redirects=False,
    )


def first_step(
    client: Any,
    email: str,
    store: MailStore,
    deliver: Callable[[], object] | None = None,
    next_path: str = "/",
) -> Any:
    """Ask for a link, open it from the email and press the button; the answer to that."""
    page = client.get("/signin")
    since = len(store.ids())
    sent = client.post(
        "/signin", data={"email": email, "next": next_path, "csrf_token": csrf_of(page.text)}
    )
    assert sent.status_code == 200, sent.text

    link = link_in(delivered(store, email, "sign in", deliver, since), "/signin/")
    # The client's own address, not the emailed one: a test may serve the app twice (in
    # process and on a port), and cookies follow the host a request went to.
    link = link[link.index("/signin/") :]
    confirm = client.get(link)
    assert confirm.status_code == 200, confirm.text
    done = client.post(
        link.split("?")[0],
        data={"csrf_token": csrf_of(confirm.text), "next": next_path},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    return done


def signin(
    client: Any, email: str, store: MailStore, deliver: Callable[[], object] | None = None
) -> None:
    """Sign in the way staff do: ask for a link, open it from the email, press the button,
    and type the authenticator code if the role needs a second factor.

    `deliver` sends the outbox when no worker process is running (in-process tests).
    """
    done = first_step(client, email, store, deliver)
    if done.headers["location"] == "/second-factor":
        done = second_factor(client, email, client.get("/second-factor"))
        assert done.status_code == 303, done.text


def report_fields(**overrides: str) -> dict[str, str]:
    fields = {
        "platform": "instagram",
        "occurred_at": "2026-11-20T18:30",
        "description": "A pupil sent me a follow request and two direct messages.",
        "pupil_name": "Jordan Miles",
        "pupil_year_group": "Year 6",
        "pupil_reference": "A1234",
        "contact_continued": "yes",
        "sexual_images": "no",
    }
    fields.update(overrides)
    return fields


def send_report(
    client: Any,
    slug: str,
    fields: dict[str, Any],
    files: list[tuple[str, bytes, str]],
    **headers: str,
) -> Any:
    """Open the report form for `slug` and send it with these answers and files, as a
    person does: the form, then the check page's "Send the report". The answer is the
    form's when it is refused (400 with the problems), else the send's (303 to the
    confirmation). An API client (`accept="application/json"`) sends it in one step."""
    answer = post_report(client, slug, fields, files, **headers)
    if answer.status_code != 303 or "json" in headers.get("accept", ""):
        return answer
    return confirm_report(client, answer.headers["location"])


def post_report(
    client: Any,
    slug: str,
    fields: dict[str, Any],
    files: list[tuple[str, bytes, str]],
    **headers: str,
) -> Any:
    """The report form's own POST alone: a browser is sent on to check its answers."""
    form = client.get(f"/report/{slug}")
    assert form.status_code == 200, form.text
    uploads = [("evidence", (name, body, ctype)) for name, body, ctype in files]
    return client.post(
        f"/report/{slug}",
        data={**fields, "csrf_token": csrf_of(form.text)},
        files=uploads or None,
        headers=headers or None,
        follow_redirects=False,
    )


def confirm_report(client: Any, check_path: str) -> Any:
    """Open the check page at `check_path` and press "Send the report"."""
    page = client.get(check_path)
    assert page.status_code == 200, page.text
    assert "Check your answers" in page.text, page.text
    return client.post(check_path, data={"csrf_token": csrf_of(page.text)}, follow_redirects=False)


def submit_report(
    client: httpx.Client, files: list[tuple[str, bytes, str]], **overrides: str
) -> httpx.Response:
    """A pupil-contact report (`report_fields` with `overrides`), sent as `send_report` does."""
    answer: httpx.Response = send_report(client, "pupil_contact", report_fields(**overrides), files)
    return answer


SENT = re.compile(r"^/(?:report/sent|cases)/(\d+)")


def case_id_of(answer: Any) -> int:
    """The case a sent report opened, from the address it sends the browser to."""
    found = SENT.match(answer.headers["location"])
    assert found, answer.headers["location"]
    return int(found.group(1))


def case_path_of(answer: Any) -> str:
    """The case page of the case a sent report opened."""
    return f"/cases/{case_id_of(answer)}"


def person(url: str, role: Role) -> Person:
    with transaction(url) as session:
        found = session.scalars(
            select(Person).where(Person.role == role).order_by(Person.id)
        ).first()
        assert found is not None
        session.expunge(found)
        return found


def make_case(url: str, kind: IncidentType = IncidentType.PUPIL_CONTACT) -> int:
    """A case straight in the database (for tests of what follows intake)."""
    staff = person(url, Role.STAFF)
    with transaction(url) as session:
        reporter = session.get(Person, staff.id)
        assert reporter is not None
        lead = session.scalars(select(Person).where(Person.role == Role.DSL)).one()
        case = open_case(
            session,
            school_id=reporter.school_id,
            reporter=reporter,
            lead=lead,
            new=NewCase(
                kind,
                "Instagram",
                utcnow(),
                "A test incident for the approval link.",
                {
                    "pupil_name": "Jordan Miles",
                    "pupil_year_group": "Year 6",
                    "pupil_reference": "",
                    "pupil_account": "",
                    "contact_continued": False,
                },
            ),
        )
        return case.id


def make_approval(
    url: str,
    case_id: int,
    *,
    ttl: timedelta = timedelta(hours=72),
    step_key: str = "approve_parent_letter",
) -> str:
    """A request waiting on the headteacher, as the flow leaves it; returns the raw token."""
    head = person(url, Role.HEADTEACHER)
    approvals = {s.key for p in PROCEDURES.values() for s in p.steps if s.kind == StepKind.APPROVAL}
    kind = ApprovalKind.APPROVAL if step_key in approvals else ApprovalKind.TASK
    with transaction(url) as session:
        approver = session.get(Person, head.id)
        assert approver is not None
        approval, token = open_request(
            session, case_id=case_id, step_key=step_key, kind=kind, approver=approver, ttl=ttl
        )
        mark_waiting(session, case_id, step_key, approver, approval.expires_at)
    assert token is not None
    return token


def audit_kinds(url: str, case_id: int, skip: tuple[str, ...] = ()) -> list[str]:
    with transaction(url) as session:
        kinds = session.scalars(
            select(AuditEvent.kind).where(AuditEvent.case_id == case_id).order_by(AuditEvent.seq)
        )
        return [k for k in kinds if not k.startswith(skip)] if skip else list(kinds)


def past_the_audit_guard(session: Any) -> None:
    """What someone with the database owner's rights could do: turn off the triggers that
    keep the audit table append-only, for this transaction (PostgreSQL) or this copy."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL session_replication_role = replica"))
    else:
        session.execute(text("DROP TRIGGER IF EXISTS audit_events_no_update"))
        session.execute(text("DROP TRIGGER IF EXISTS audit_events_no_delete"))


def count(url: str, model: Any, *where: Any) -> int:
    """How many rows of `model` match (counted by the database: tests poll this)."""
    with reading(url) as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def case_row(url: str, case_id: int) -> Case:
    with transaction(url) as session:
        case = session.get(Case, case_id)
        assert case is not None
        session.expunge(case)
        return case


def create_pg_database(admin_url: str, template: str | None = None) -> str:
    """A fresh PostgreSQL database for one test, empty or a copy of the `template` database
    (which no one may be connected to); returns its URL."""
    name = f"cw_test_{uuid.uuid4().hex[:12]}"
    copy = f' TEMPLATE "{template.rsplit("/", 1)[1]}"' if template else ""
    engine = create_engine(_psycopg(admin_url), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"{copy}'))
    engine.dispose()
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


SEED_SCHEMA = "cw_seed"


def snapshot_pg_database(url: str) -> None:
    """Keep a copy of every table's rows and every sequence's position, for `restore`."""
    engine = create_engine(_psycopg(url))
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{SEED_SCHEMA}"'))
        for table in _pg_tables(conn):
            conn.execute(text(f'CREATE TABLE "{SEED_SCHEMA}"."{table}" AS TABLE public."{table}"'))
        conn.execute(
            text(
                f'CREATE TABLE "{SEED_SCHEMA}".sequences AS SELECT sequencename AS name, '
                "last_value FROM pg_sequences WHERE schemaname = 'public'"
            )
        )
    engine.dispose()


def restore_pg_database(url: str) -> None:
    """Put back the rows and sequences `snapshot_pg_database` kept, in one transaction.

    Emptying a few dozen small tables is much quicker than PostgreSQL copying a whole
    database (its catalogs are most of it), which is what a fresh database per test cost.
    """
    engine = create_engine(_psycopg(url))
    with engine.begin() as conn:
        # Whatever a test left connected (a killed process's backend) lets go of its locks.
        conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
        conn.execute(text("SET LOCAL session_replication_role = replica"))  # rows in any order
        for table in _pg_tables(conn):
            conn.execute(text(f'DELETE FROM public."{table}"'))
            conn.execute(
                text(f'INSERT INTO public."{table}" SELECT * FROM "{SEED_SCHEMA}"."{table}"')
            )
        conn.execute(
            text(
                "SELECT setval(format('public.%I', name), coalesce(last_value, 1), "
                f'last_value IS NOT NULL) FROM "{SEED_SCHEMA}".sequences'
            )
        )
    engine.dispose()


def _pg_tables(conn: Any) -> list[str]:
    """Casework's own tables (not Alembic's record of the schema's version)."""
    rows = conn.execute(
        text(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
            "AND tablename <> 'alembic_version' ORDER BY tablename"
        )
    )
    return [row[0] for row in rows]


def drop_pg_database(admin_url: str, url: str) -> None:
    from db.session import dispose_engine

    dispose_engine(url)
    name = url.rsplit("/", 1)[1]
    engine = create_engine(_psycopg(admin_url), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def _psycopg(url: str) -> str:
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


@contextmanager
def oidc_provider(argv: list[str], issuer: str, log_path: Path) -> Iterator[str]:
    """A real OpenID Connect provider process (`argv`) serving `issuer`, ended afterwards."""
    line = Lifeline().start()
    with open(log_path, "ab") as log:
        proc = line.spawn(argv, {"PATH": "/usr/bin:/bin", "NO_COLOR": "1"}, log)
    try:
        wait_http(f"{issuer}/.well-known/openid-configuration", 30, proc)
        yield issuer
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        line.close()


def children_running(parent: int, marker: bytes) -> int:
    """How many processes of `parent` have `marker` in their command line (from /proc)."""
    found = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            argv = (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue  # gone while we looked
        found += ppid == parent and marker in argv
    return found


def case_with_photo(url: str, kind: IncidentType, photo: bytes) -> tuple[int, int]:
    """A case of `kind` with every answer its form asks (tests/report_answers.py) and one
    screenshot sent by a member of staff: (case id, evidence id)."""
    case_id = make_case(url, kind)
    report, staff = reported(kind), person(url, Role.STAFF)
    with transaction(url) as session:
        case = session.get(Case, case_id)
        uploader = session.get(Person, staff.id)
        assert case is not None and uploader is not None
        case.platform, case.occurred_at = report.platform, report.occurred_at
        case.description, case.details = report.description, report.details
        item = add_evidence(
            session,
            case_id,
            uploader,
            evidence_files().save(photo),
            filename="the-post.jpg",
            content_type="image/jpeg",
            source="",
        )
        return case_id, item.id
