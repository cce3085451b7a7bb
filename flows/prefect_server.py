"""Prefect's server as Casework runs it: `python -m flows.prefect_server server start ...`
is `python -m prefect server start ...` with one change, made before the server starts.

On SQLite, Prefect begins most of its server's transactions as deferred ones: they read,
then write. When another connection writes in between, SQLite refuses the write at once
("database is locked": its busy timeout cannot help a transaction whose snapshot is out of
date), and the API call fails. Resuming a suspended run is one of them; the caller's client
tries again seconds later. Measured with `bench/hop.py`: the slowest hops waited about 2 s
for exactly this, and a bare resume up to 7 s. Here every transaction the server begins
takes SQLite's write lock at its start, as Casework's own do (db/session.py): a writer that
finds it taken waits its turn. PostgreSQL is not touched.
"""

from __future__ import annotations

from typing import Any


def immediate_sqlite_transactions() -> None:
    """Have Prefect's SQLite configuration begin every transaction as BEGIN IMMEDIATE."""
    from prefect.server.database.configurations import AioSqliteConfiguration

    deferred = AioSqliteConfiguration.begin_transaction
    if getattr(deferred, "casework_immediate", False):
        return

    def begin_transaction(self: Any, session: Any, with_for_update: bool = False) -> Any:
        # Prefect's own name for "take the write lock now"; ignored for reads outside a
        # transaction, which still see a snapshot without waiting for anyone.
        return deferred(self, session, with_for_update=True)

    begin_transaction.casework_immediate = True  # type: ignore[attr-defined]
    AioSqliteConfiguration.begin_transaction = begin_transaction  # type: ignore[method-assign]


def main() -> None:
    immediate_sqlite_transactions()
    from prefect.cli import app

    app()


if __name__ == "__main__":
    main()
