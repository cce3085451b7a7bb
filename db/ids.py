"""The range of row ids: what an id in an address may be before any query sees it."""

from __future__ import annotations

from sqlalchemy import BigInteger, Integer

from db.models import Base


def largest_id() -> int:
    """The largest id every table's primary key can hold, on SQLite and PostgreSQL alike.

    An `Integer` key is PostgreSQL's 32-bit integer (SQLite stores 64 bits either way); only
    if every table's key is a `BigInteger` does the 64-bit range apply.
    """
    keys = [
        column.type
        for table in Base.metadata.tables.values()
        for column in table.primary_key.columns
        if isinstance(column.type, Integer)
    ]
    return 2**63 - 1 if all(isinstance(kind, BigInteger) for kind in keys) else 2**31 - 1


MAX_ID = largest_id()
