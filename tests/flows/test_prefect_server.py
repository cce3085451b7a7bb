"""Prefect's server as Casework starts it (flows/prefect_server.py): on SQLite a transaction
that reads and then writes is not refused because another process wrote in between."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest


def read_then_write(path: Path, immediate: bool) -> tuple[str, str]:
    """A transaction of Prefect's server reads; another process writes meanwhile; the
    transaction then writes. What became of each: "saved" or SQLite's error."""
    code = f"""
import asyncio, sqlite3, threading
from sqlalchemy import text
from prefect.server.database.configurations import AioSqliteConfiguration
from flows.prefect_server import immediate_sqlite_transactions
if {immediate!r}:
    immediate_sqlite_transactions()

def other_process_writes(out):
    conn = sqlite3.connect({str(path)!r}, timeout=0.3, isolation_level=None)
    try:
        conn.execute("INSERT INTO runs (state) VALUES ('other')")
        out.append("saved")
    except sqlite3.OperationalError as exc:
        out.append(str(exc))

async def main():
    config = AioSqliteConfiguration(connection_url="sqlite+aiosqlite:///{path}")
    engine = await config.engine()
    session = await config.session(engine)
    other, ours = [], []
    async with session:
        try:
            async with config.begin_transaction(session):
                await session.execute(text("SELECT count(*) FROM runs"))
                writer = threading.Thread(target=other_process_writes, args=(other,))
                writer.start()
                writer.join()
                await session.execute(text("INSERT INTO runs (state) VALUES ('resumed')"))
            ours.append("saved")
        except Exception as exc:
            ours.append(str(exc.__cause__ or exc).splitlines()[0])
    await engine.dispose()
    print(ours[0]); print(other[0])

asyncio.run(main())
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    ours, other = done.stdout.strip().splitlines()[-2:]
    return ours, other


@pytest.fixture
def database(tmp_path: Path) -> Path:
    path = tmp_path / "prefect.db"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY, state TEXT)")
    return path


def test_prefect_alone_refuses_the_write_after_another_process_wrote(database: Path) -> None:
    """What the hop benchmark met: the resumption itself failed, and was retried seconds later."""
    ours, other = read_then_write(database, immediate=False)
    assert other == "saved"
    assert "database is locked" in ours


def test_as_casework_starts_it_the_server_keeps_its_write(database: Path) -> None:
    ours, other = read_then_write(database, immediate=True)
    assert ours == "saved"
    assert "database is locked" in other, "the other writer waited its turn instead"
    with sqlite3.connect(database) as conn:
        states = [row[0] for row in conn.execute("SELECT state FROM runs")]
    assert states == ["resumed"]


def test_the_server_command_starts_prefects_own_cli() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "flows.prefect_server", "version"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "Version:" in done.stdout
