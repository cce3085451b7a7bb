"""Fixtures: real databases (SQLite and PostgreSQL), a real SMTP server, and the full stack.

No process the suite starts may outlive it. Every one carries the session's lifeline mark
(see casework/run.py): if pytest is killed, the watchdog ends them all, and at the end of
a session that ran to its end any marked process still alive fails the run.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

# No test may fall back to an in-process Prefect: point the client at a closed port
# unless a fixture points it at a real server.
os.environ.setdefault("PREFECT_API_URL", "http://127.0.0.1:9/api")
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"

import pytest
from fastapi.testclient import TestClient

from casework.run import LIFELINES, Lifeline, describe, reap, wait_http
from core.settings import Settings, get_settings
from db.session import dispose_engine
from mail.catcher import MailStore, free_port, start_catcher
from tests.stack import PrefectServer, Stack, copy_sqlite
from tests.support import (
    create_pg_database,
    drop_pg_database,
    restore_pg_database,
    signin,
    snapshot_pg_database,
)

PG_ADMIN_URL = os.environ.get("CASEWORK_TEST_POSTGRES_URL", "")
# Tests that share the session's stack run on one xdist worker, one after another.
STACK_GROUP = "stack"
SESSION_LIFELINE = pytest.StashKey[Lifeline]()


def pytest_configure(config: pytest.Config) -> None:
    """Mark everything this run starts; xdist workers inherit the mark from the controller."""
    if hasattr(config, "workerinput"):
        return
    # The groups are handed out in the order the tests are collected (see
    # pytest_collection_modifyitems), not largest first.
    config.option.loadscopereorder = False
    lifeline = Lifeline().start()
    config.stash[SESSION_LIFELINE] = lifeline
    os.environ[LIFELINES] = lifeline.env(os.environ)[LIFELINES]


@pytest.hookimpl(trylast=True)  # after xdist has shut its workers down
def pytest_sessionfinish(session: pytest.Session) -> None:
    """Fail a run that leaves any process it started still running, and end those."""
    lifeline = session.config.stash.get(SESSION_LIFELINE, None)
    if lifeline is None:
        return
    deadline = time.monotonic() + 5  # a process that was just told to stop may still be going
    while (left := lifeline.survivors()) and time.monotonic() < deadline:
        time.sleep(0.1)
    if left:
        names = "".join(f"\n  {describe(pid)}" for pid in left)
        print(f"\nThese processes the tests started were still running:{names}", file=sys.stderr)
        reap(lifeline.mark)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_unconfigure(config: pytest.Config) -> None:
    lifeline = config.stash.get(SESSION_LIFELINE, None)
    if lifeline is not None:
        lifeline.close()


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Group the shared stack's tests, and put each group before the tests that are not in one.

    xdist hands each worker a group whole; the groups are the long work (the stack's tests
    take minutes one after another, the local authority's test minutes on its own), so each
    starts at once on a worker of its own, and the short tests fill in around them. Left at
    the end, the local authority's test queued behind the stack's on the same worker.
    """
    for item in items:
        if "stack" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group(STACK_GROUP))
    items.sort(key=lambda item: item.get_closest_marker("xdist_group") is None)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Refuse to run the stack's tests ungrouped: each worker would start its own stacks."""
    if not getattr(session.config.option, "loadgroup", False):
        return  # not an xdist worker under --dist loadgroup
    loose = [i.nodeid for i in session.items if "stack" in getattr(i, "fixturenames", ())]
    loose = [nodeid for nodeid in loose if not nodeid.endswith(f"@{STACK_GROUP}")]
    if loose:
        raise pytest.UsageError(
            f"pytest-xdist did not group {len(loose)} tests on the shared stack (the first: "
            f"{loose[0]}); this pytest and pytest-xdist do not work together: see pyproject.toml"
        )


@pytest.hookimpl(tryfirst=True)  # before the fixture's own params are applied
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test of the web layer alone (`tests.support.SQLITE_ONLY`) runs on SQLite alone."""
    if "db_url" in metafunc.fixturenames and metafunc.definition.get_closest_marker("web_only"):
        metafunc.definition.add_marker(pytest.mark.parametrize("db_url", ["sqlite"], indirect=True))


def backends() -> list[str]:
    return ["sqlite", "postgres"] if PG_ADMIN_URL else ["sqlite"]


@pytest.fixture(scope="session")
def seeded() -> Iterator[dict[str, str]]:
    """Per worker and backend, one database migrated and seeded with the demo school, made
    when first wanted, which is much quicker than migrating and seeding for every test:
    SQLite's is copied for each test, PostgreSQL's is put back as it was (see db_url)."""
    made: dict[str, str] = {}
    yield made
    for url in made.values():
        if url.startswith("postgresql"):
            drop_pg_database(PG_ADMIN_URL, url)


def seeded_database(backend: str, made: dict[str, str], root: Path) -> str:
    """The worker's migrated and seeded database on `backend`, made the first time."""
    from casework.demo import seed_demo
    from db.migrate import upgrade
    from db.session import transaction

    if backend not in made:
        url = f"sqlite:///{root / 'seeded.db'}"
        if backend == "postgres":
            url = create_pg_database(PG_ADMIN_URL)
        upgrade(url)
        with transaction(url) as session:
            seed_demo(session)
        dispose_engine(url)
        if backend == "postgres":
            snapshot_pg_database(url)
        made[backend] = url
    return made[backend]


@pytest.fixture(params=backends())
def db_url(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    seeded: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """A database on each backend under test: for a `configured` test the worker's migrated
    and seeded one as it was after seeding (SQLite: a copy; PostgreSQL: the worker's one
    database, its rows put back), else an empty one of its own."""
    if "configured" in request.fixturenames:
        seeded_url = seeded_database(request.param, seeded, tmp_path_factory.getbasetemp())
        if request.param == "postgres":
            restore_pg_database(seeded_url)
            yield seeded_url
            return
        path = tmp_path / "casework.db"
        copy_sqlite(Path(seeded_url.split("///", 1)[1]), path)
        yield f"sqlite:///{path}"
        return
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'casework.db'}"
        return
    url = create_pg_database(PG_ADMIN_URL)
    try:
        yield url
    finally:
        drop_pg_database(PG_ADMIN_URL, url)


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[tuple[MailStore, int]]:
    """A real SMTP server on loopback that keeps every message."""
    # Where `make run` keeps caught mail (var/devmail), so /dev/mail shows it too.
    store = MailStore(tmp_path / "var" / "devmail")
    port = free_port()
    controller = start_catcher(store, "127.0.0.1", port)
    try:
        yield store, port
    finally:
        controller.stop()


@pytest.fixture
def configured(
    db_url: str,
    tmp_path: Path,
    smtp: tuple[MailStore, int],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Settings]:
    """Settings for one test: its own database (migrated and seeded), files and mail server."""

    env = {
        "CASEWORK_DATABASE_URL": db_url,
        "CASEWORK_VAR_DIR": str(tmp_path / "var"),
        "CASEWORK_BASE_URL": "http://testserver",
        "CASEWORK_SMTP_PORT": str(smtp[1]),
        "CASEWORK_DEV_MODE": "true",
        "CASEWORK_OUTBOX_BACKOFF_SECONDS": "0.2",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    yield get_settings()
    # Only this test's engine: a session's stack keeps its own open across tests.
    dispose_engine(db_url)
    get_settings.cache_clear()


@pytest.fixture
def client(configured: Settings) -> Iterator[TestClient]:
    from api.app import create_app

    with TestClient(create_app(), base_url="http://testserver") as test_client:
        yield test_client


@pytest.fixture
def deliver(configured: Settings) -> Callable[[], int]:
    """Run the real outbox sender once against the test's SMTP server."""
    from mail.sender import deliver_due

    return lambda: asyncio.run(deliver_due(get_settings()))


@pytest.fixture
def signed_in(
    client: TestClient, smtp: tuple[MailStore, int], deliver: Callable[[], int]
) -> Callable[[str], TestClient]:
    """Sign the test client in as the staff member with that email address."""

    def as_person(email: str) -> TestClient:
        signin(client, email, smtp[0], deliver)
        return client

    return as_person


@pytest.fixture
def live_server(configured: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The app served by uvicorn on loopback, for tests that need real concurrency or streams.

    Its own address is Casework's, as in production: emailed links point at it and a browser's
    form posts pass the same-origin check.
    """
    import uvicorn

    from api.app import create_app

    port = free_port()
    monkeypatch.setenv("CASEWORK_BASE_URL", f"http://127.0.0.1:{port}")
    get_settings.cache_clear()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(), host="127.0.0.1", port=port, log_level="warning", limit_concurrency=200
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_http(f"http://127.0.0.1:{port}/healthz", 30)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectServer]:
    """One Prefect server for the session: it takes longer to start than anything else."""
    server = PrefectServer(tmp_path_factory.mktemp("prefect"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session", params=backends())
def stack(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    prefect_server: PrefectServer,
) -> Iterator[Stack]:
    """The whole system as `make run` starts it, on each database backend."""
    root = tmp_path_factory.mktemp(f"stack-{request.param}")
    url = f"sqlite:///{root / 'casework.db'}"
    if request.param == "postgres":
        url = create_pg_database(PG_ADMIN_URL)
    system = Stack(root, url, prefect_server)
    try:
        system.start()
        yield system
    finally:
        system.stop()
        if request.param == "postgres":
            drop_pg_database(PG_ADMIN_URL, url)
