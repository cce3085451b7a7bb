"""The whole default install, started for a benchmark the way `make run` starts it.

Not a benchmark itself (`make bench` skips it): the intake and first-step benchmarks import
it. `running_install` makes a throw-away var directory with its own SQLite database, picks
free ports for everything that listens, migrates and seeds the demo school (as `casework
run` would), adds the benchmark's reporters, and then runs `casework run` itself: the mail
catcher, the local sign-in provider, the Prefect server, the reply receiver, the runner,
the worker and the web app, each a process of its own, with every other setting at its
default. Everything it starts is tied to a Lifeline (casework/run.py), so nothing outlives
the benchmark however it ends.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from casework.run import Lifeline, prefect_env, wait_http  # noqa: E402
from core.settings import Settings, get_settings  # noqa: E402
from mail.catcher import MailStore, StoredMail, free_port  # noqa: E402

T = TypeVar("T")
REPORTER_DOMAIN = "bench.oakfield.example"
START_SECONDS = 300  # a cold Prefect server migrates its database first: slow on a busy box


@dataclass(frozen=True)
class Install:
    """Where a running install is, and how to read what it did."""

    root: Path
    env: dict[str, str]
    base_url: str
    prefect_api: str
    database_url: str
    mail: MailStore
    reporters: list[str]  # the benchmark's members of staff, by email address

    def log(self) -> str:
        """The last lines `casework run` printed, for a message about a failure."""
        path = self.root / "run.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""


def install_env(root: Path, database_url: str = "") -> dict[str, str]:
    """This process's environment with every Casework setting at its default but the
    places: a var directory in `root` (with the SQLite database, unless `database_url`
    names another) and a free port for everything that listens."""
    web, smtp = free_port(), free_port()
    values = {
        "CASEWORK_VAR_DIR": str(root / "var"),
        "CASEWORK_DATABASE_URL": database_url or f"sqlite:///{root / 'var' / 'casework.db'}",
        "CASEWORK_WEB_PORT": str(web),
        "CASEWORK_BASE_URL": f"http://127.0.0.1:{web}",
        "CASEWORK_SMTP_PORT": str(smtp),
        "CASEWORK_DEVMAIL_PORT": str(smtp),
        "CASEWORK_PREFECT_API_URL": f"http://127.0.0.1:{free_port()}/api",
        "CASEWORK_DEV_OIDC_PORT": str(free_port()),
        "CASEWORK_INBOUND_PORT": str(free_port()),
    }
    # A setting left in the caller's environment would make this something other than the
    # default install.
    ours = {f"CASEWORK_{name.upper()}" for name in Settings.model_fields}
    kept = {key: value for key, value in os.environ.items() if key not in ours}
    return {**kept, **values}


def prepare(reporters: int) -> list[str]:
    """Migrate and seed as `casework run` does, then add `reporters` members of staff."""
    from casework.run import prepare as prepare_install
    from db.models import Role
    from db.people import add_person
    from db.schools import first_school
    from db.session import transaction

    prepare_install(get_settings())
    emails = [f"reporter{n:02d}@{REPORTER_DOMAIN}" for n in range(1, reporters + 1)]
    with transaction() as session:
        school = first_school(session)
        assert school is not None
        for n, email in enumerate(emails, start=1):
            add_person(
                session,
                school_id=school.id,
                name=f"Bench Reporter {n:02d}",
                role=Role.STAFF,
                email=email,
                job_title="Teacher",
            )
    return emails


@contextlib.contextmanager
def running_install(root: Path, reporters: int = 20, database_url: str = "") -> Iterator[Install]:
    """`casework run` on a throw-away var directory in `root`, ready for reports; on SQLite
    there, or on the empty database `database_url` names."""
    env = install_env(root, database_url)
    # This process reads the same database and talks to the same Prefect server.
    os.environ.update(env)
    get_settings.cache_clear()
    settings = get_settings()
    os.environ.update(prefect_env(settings))
    print("Starting the install (casework run) ...", flush=True)
    emails = prepare(reporters)
    install = Install(
        root=root,
        env={**env, **prefect_env(settings)},
        base_url=settings.base_url,
        prefect_api=settings.prefect_api_url,
        database_url=settings.database_url,
        mail=MailStore(settings.devmail_dir),
        reporters=emails,
    )
    line = Lifeline().start()
    try:
        with open(root / "run.log", "ab") as log:
            supervisor = line.spawn([sys.executable, "-m", "casework.cli", "run"], env, log)
        try:
            wait_ready(install, supervisor)
            yield install
        finally:
            stop(supervisor)
    finally:
        line.close()


def wait_ready(install: Install, supervisor: subprocess.Popen[bytes]) -> None:
    """Wait until the web app answers and the runner has every deployment on the server."""
    from flows.deployments import FLOWS

    started = time.monotonic()
    try:
        wait_http(install.base_url + "/readyz", START_SECONDS, supervisor)
        for slug in FLOWS:
            url = f"{install.prefect_api}/deployments/name/{slug}/{slug}"
            wait_http(url, START_SECONDS - (time.monotonic() - started), supervisor)
    except (RuntimeError, TimeoutError) as exc:
        raise RuntimeError(f"the install did not start: {exc}\n{install.log()}") from None
    print(f"  ready in {time.monotonic() - started:.0f} s", flush=True)


def stop(supervisor: subprocess.Popen[bytes]) -> None:
    """Stop `casework run` as Ctrl-C would: it stops its processes in order."""
    if supervisor.poll() is None:
        supervisor.send_signal(signal.SIGINT)
        try:
            supervisor.wait(timeout=60)
        except subprocess.TimeoutExpired:
            supervisor.kill()
            supervisor.wait()


# --- signing in, as a member of staff does --------------------------------------------------


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    if found is None:
        raise RuntimeError("the page has no form with a CSRF token")
    return found.group(1)


def wait_for(check: Callable[[], T | None], seconds: float, what: str) -> T:
    """Poll `check` until it returns something."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found is not None:
            return found
        time.sleep(0.1)
    raise TimeoutError(f"no {what} within {seconds:.0f} s")


def sign_in(install: Install, client: httpx.Client, email: str) -> None:
    """Ask for a sign-in link, open it from the mail catcher and press the button."""
    page = client.get("/signin")
    since = set(install.mail.ids())
    asked = client.post(
        "/signin", data={"email": email, "next": "/", "csrf_token": csrf_of(page.text)}
    )
    asked.raise_for_status()

    def link() -> str | None:
        for mail_id in set(install.mail.ids()) - since:
            mail = install.mail.get(mail_id)
            if mail is not None and email in mail.rcpt_tos:
                return next((u for u in mail.links if "/signin/" in u), None)
        return None

    found = wait_for(link, 60, f"sign-in email to {email}")
    path = found[found.index("/signin/") :]
    confirm = client.get(path)
    confirm.raise_for_status()
    done = client.post(path.split("?")[0], data={"csrf_token": csrf_of(confirm.text), "next": "/"})
    if done.status_code != 303:
        raise RuntimeError(f"signing in {email} ended with {done.status_code}")


def signed_in_cookies(install: Install, emails: list[str]) -> list[httpx.Cookies]:
    """Each reporter signed in; their cookies, for the clients that report as them."""
    from concurrent.futures import ThreadPoolExecutor

    def one(email: str) -> httpx.Cookies:
        with httpx.Client(base_url=install.base_url, timeout=60) as client:
            sign_in(install, client, email)
            return client.cookies

    with ThreadPoolExecutor(len(emails)) as pool:
        return list(pool.map(one, emails))


def mail_about(install: Install, case_link: str) -> list[StoredMail]:
    """Every message the catcher holds whose links include this case's page."""
    found = []
    for mail_id in install.mail.ids():
        mail = install.mail.get(mail_id)
        if mail is not None and case_link in mail.links:
            found.append(mail)
    return found


# --- what a reporter sends ------------------------------------------------------------------

SLUG = "pupil_contact"
IMAGE_BYTES = 2 * 1024 * 1024


def evidence_image(size: int = IMAGE_BYTES, seed: int = 13) -> bytes:
    """A real PNG of about `size` bytes: random pixels, so it does not compress smaller.

    The app types evidence by its content, so the screenshot must be a PNG from its first
    bytes; a checker that opened it would find a valid image too.
    """
    import random
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    width = 1024
    height = size // (width * 3) + 1
    pixels = random.Random(seed).randbytes(width * 3 * height)
    rows = b"".join(
        b"\x00" + pixels[row * width * 3 : (row + 1) * width * 3] for row in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 1))
        + chunk(b"IEND", b"")
    )


def report_fields(n: int) -> dict[str, str]:
    """A complete report of a pupil's contact (procedure A), a little different each time."""
    from datetime import datetime, timedelta

    when = datetime.now() - timedelta(days=1, minutes=n)  # the form reads UK local time
    return {
        "platform": ("instagram", "tiktok", "snapchat", "facebook")[n % 4],
        "occurred_at": when.strftime("%Y-%m-%dT%H:%M"),
        "description": (
            f"Report {n}: a pupil sent me a follow request and then two direct messages "
            "asking about homework and what I do at the weekend."
        ),
        "pupil_name": "Jordan Miles",
        "pupil_year_group": "Year 6",
        "pupil_reference": f"A{1000 + n}",
        "pupil_account": f"@jm_bench_{n}",
        "contact_continued": "yes" if n % 2 else "no",
        "sexual_images": "no",
    }
