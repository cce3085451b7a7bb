"""The one audit writer, and the verifier of its hash chain.

Every event carries the hash of the one before it, so a row changed, removed or
inserted afterwards breaks the chain at that point and `verify_chain` says where.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, func, not_, select, text
from sqlalchemy.orm import Session

from core.enums import ACCESS_KINDS, FLOW_KINDS, AuditKind
from db.models import AuditEvent, Case, Person, School, utcnow
from db.session import stored_json

GENESIS = "0" * 64
SYSTEM = "system"
# The chains events are written to. Each school has its own, so that one school's writers
# never wait for another's; events that belong to no school go to the installation's. The
# one chain every event went to before chains were split keeps its rows and its hashes.
INSTALLATION = "installation"
LEGACY = ""
_LOCK_SPACE = 7311  # PostgreSQL advisory locks: (this, the school's id or 0)


def school_chain(school_id: int | None) -> str:
    return f"school:{school_id}" if school_id is not None else INSTALLATION


def actor_label(person: Person | None) -> str:
    """How an actor is written in the trail: role and name, or 'system'."""
    if person is None:
        return SYSTEM
    return f"{person.name} ({person.role.value})"


def canonical(event: dict[str, Any]) -> bytes:
    return json.dumps(event, sort_keys=True, separators=(",", ":"), default=str).encode()


def legacy_hash(
    prev_hash: str,
    seq: int,
    case_id: int | None,
    kind: str,
    actor: str,
    at: datetime,
    data: dict[str, Any],
) -> str:
    """The hash of an event of the legacy chain, as it was computed when it was written."""
    body = {
        "seq": seq,
        "case_id": case_id,
        "kind": kind,
        "actor": actor,
        "at": at_text(at),
        "data": data,
    }
    return hashlib.sha256(prev_hash.encode() + canonical(body)).hexdigest()


def event_hash(
    prev_hash: str,
    seq: int,
    chain: str,
    chain_seq: int,
    case_id: int | None,
    kind: str,
    actor: str,
    at: str,
    data: str,
) -> str:
    """An event's hash: the hash before it in its chain, then everything it says.

    `at` is `at_text` of its time and `data` its data exactly as stored (`stored_json`), so
    verifying hashes the stored text without decoding and re-encoding it. The free-text
    fields carry their length, so no two different events give the same bytes.
    """
    case = "" if case_id is None else case_id
    said = f"{len(kind)}:{kind}|{len(actor)}:{actor}|{at}|"
    return _sha256(f"{prev_hash}{seq}|{chain}|{chain_seq}|{case}|{said}{data}".encode()).hexdigest()


_sha256 = hashlib.sha256


def at_text(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def _stored_at_text(value: datetime | str) -> str:
    if isinstance(value, datetime):
        return at_text(value)
    # SQLite keeps the UTC time as text with no zone ("2026-12-07 09:30:00.000000"), and
    # PostgreSQL gives it so when asked (`_PG_AT`), less the fraction's trailing zeros
    # ("2026-12-07 09:30:00.5", "2026-12-07 09:30:00"); a bundle carries it as hashed.
    # Those shapes are made the hashed one by hand (quick); any other is read as a time.
    size = len(value)
    if size == 26 and value[10] == " ":
        return f"{value[:10]}T{value[11:]}+00:00"
    if size == 19 and value[10] == " ":
        return f"{value[:10]}T{value[11:]}.000000+00:00"
    if 21 <= size < 26 and value[10] == " " and value[19] == "." and value[20:].isdigit():
        return f"{value[:10]}T{value[11:]}{'0' * (26 - size)}+00:00"
    if size == 32 and value[10] == "T" and value.endswith("+00:00"):
        return value
    parsed = datetime.fromisoformat(value)
    return at_text(parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC))


def _chain_of(session: Session, case_id: int | None, school_id: int | None) -> str:
    if case_id is not None:
        case = session.get(Case, case_id)
        school_id = case.school_id if case is not None else school_id
    return school_chain(school_id)


def _lock_chain(session: Session, chain: str) -> None:
    # PostgreSQL: serialise this chain's writers for the rest of the transaction, and
    # nobody else's. SQLite already holds the write lock (BEGIN IMMEDIATE).
    if session.get_bind().dialect.name == "postgresql":
        key = int(chain.split(":", 1)[1]) if chain.startswith("school:") else 0
        session.execute(
            text("SELECT pg_advisory_xact_lock(:space, :key)"), {"space": _LOCK_SPACE, "key": key}
        )


def next_seq(session: Session) -> int:
    """The next event number: unique across chains without a lock that spans them (also for
    loading many events at once; see `chained`)."""
    if session.get_bind().dialect.name == "postgresql":
        return int(
            session.scalar(text("SELECT nextval(pg_get_serial_sequence('audit_events', 'id'))"))
        )
    # SQLite has one writer at a time; ids and numbers are kept equal from here on. Each
    # max is its own subquery: SQLite reads a lone max() off the end of an index, but two
    # in one SELECT scan the whole table (50 ms with 500,000 events, on every event written).
    last = session.execute(
        select(
            select(func.max(AuditEvent.id)).scalar_subquery(),
            select(func.max(AuditEvent.seq)).scalar_subquery(),
        )
    ).one()
    return max(last[0] or 0, last[1] or 0) + 1


def chain_head(session: Session, chain: str) -> tuple[int, str]:
    """The chain's length and its last event's hash (0 and the genesis hash for none)."""
    last = session.execute(
        select(AuditEvent.chain_seq, AuditEvent.hash)
        .where(AuditEvent.chain == chain)
        .order_by(AuditEvent.chain_seq.desc())
        .limit(1)
    ).first()
    return (last[0], last[1]) if last else (0, GENESIS)


def chain_heads(session: Session) -> dict[str, tuple[int, str]]:
    """Every chain's length and last hash."""
    lengths = (
        select(AuditEvent.chain, func.max(AuditEvent.chain_seq).label("length"))
        .group_by(AuditEvent.chain)
        .subquery()
    )
    rows = session.execute(
        select(AuditEvent.chain, AuditEvent.chain_seq, AuditEvent.hash).join(
            lengths,
            (AuditEvent.chain == lengths.c.chain) & (AuditEvent.chain_seq == lengths.c.length),
        )
    )
    return {chain: (length, head) for chain, length, head in rows}


def chain_names(session: Session, chains: Iterable[str]) -> dict[str, str]:
    """How each chain is named to people: after its school."""
    chains = list(chains)
    ids = {int(c.split(":", 1)[1]) for c in chains if c.startswith("school:")}
    schools = {
        school_id: name
        for school_id, name in session.execute(
            select(School.id, School.name).where(School.id.in_(ids))
        )
    }
    names = {}
    for chain in chains:
        if chain == LEGACY:
            names[chain] = "the chain written before each school had its own"
        elif chain == INSTALLATION:
            names[chain] = "the installation's chain"
        else:
            school_id = int(chain.split(":", 1)[1])
            names[chain] = f"{schools.get(school_id, f'school {school_id}')}'s chain"
    return names


def record_event(
    session: Session,
    *,
    case_id: int | None,
    kind: str,
    actor: Person | None = None,
    data: dict[str, Any] | None = None,
    school_id: int | None = None,
) -> AuditEvent:
    """Append one event in the caller's transaction; never swallows an error.

    It goes on its case's school's chain; without a case, on `school_id`'s chain, or the
    installation's for events that concern no one school.
    """
    chain = _chain_of(session, case_id, school_id)
    appended = _appended(session)
    if chain not in appended.heads:
        _lock_chain(session, chain)
        appended.heads[chain] = chain_head(session, chain)
    length, prev = appended.heads[chain]
    seq = appended.next_seq(session)
    at = utcnow()
    payload = json.loads(canonical(data or {}))  # plain JSON values only
    label = actor_label(actor)
    event = AuditEvent(
        id=seq,
        seq=seq,
        chain=chain,
        chain_seq=length + 1,
        case_id=case_id,
        kind=kind,
        actor=label,
        actor_id=actor.id if actor else None,
        at=at,
        data=payload,
        prev_hash=prev,
        hash=event_hash(
            prev, seq, chain, length + 1, case_id, kind, label, at_text(at), stored_json(payload)
        ),
    )
    session.add(event)
    session.flush()
    appended.heads[chain] = (length + 1, event.hash)
    return event


class _Appended:
    """What this unit of work has appended so far: each chain's head and the last event
    number. A transaction that records several events (intake records four) reads them
    from the table once. Safe while the transaction lasts: its chains are locked
    (PostgreSQL) or the whole database is (SQLite), and nothing here writes events but
    `record_event` (no savepoints either)."""

    def __init__(self, transaction: object) -> None:
        self.transaction = transaction
        self.heads: dict[str, tuple[int, str]] = {}
        self.last_seq: int | None = None

    def next_seq(self, session: Session) -> int:
        if session.get_bind().dialect.name == "postgresql" or self.last_seq is None:
            self.last_seq = next_seq(session)  # PostgreSQL's sequence is quick and lock-free
        else:
            self.last_seq += 1
        return self.last_seq


_APPENDED = "casework_audit_appended"


def _appended(session: Session) -> _Appended:
    """This transaction's record of what it appended (a new one for a new transaction)."""
    current = session.get_transaction()
    found = session.info.get(_APPENDED)
    if not isinstance(found, _Appended) or found.transaction is not current:
        found = session.info[_APPENDED] = _Appended(current)
    return found


def chained(
    events: Iterable[dict[str, Any]], heads: dict[str, tuple[int, str]], seq: int
) -> Iterator[dict[str, Any]]:
    """Rows for events given as case_id, chain, kind, actor, at and data, numbered from
    `seq` and chained after `heads` exactly as `record_event` chains them; `heads` is kept
    up to date. For loading many events at once (benchmarks), in one transaction."""
    for event in events:
        chain = event["chain"]
        length, prev = heads.get(chain, (0, GENESIS))
        data = json.loads(canonical(event["data"]))
        digest = event_hash(
            prev,
            seq,
            chain,
            length + 1,
            event["case_id"],
            event["kind"],
            event["actor"],
            at_text(event["at"]),
            stored_json(data),
        )
        yield {
            **event,
            "id": seq,
            "seq": seq,
            "chain_seq": length + 1,
            "actor_id": None,
            "data": data,
            "prev_hash": prev,
            "hash": digest,
        }
        heads[chain] = (length + 1, digest)
        seq += 1


def mark_in_error(session: Session, seq: int, reason: str, actor: Person) -> AuditEvent:
    """Say that event `seq` was wrong, and why, in a new event on the same case.

    Nothing is changed or removed (the database would refuse): the original stays in the
    trail for auditors to read, next to the correction. Raises LookupError for no such
    event and ValueError for a correction without a reason.
    """
    if not reason.strip():
        raise ValueError("Give the reason the event is wrong.")
    original = session.scalars(select(AuditEvent).where(AuditEvent.seq == seq)).first()
    if original is None:
        raise LookupError(f"There is no audit event {seq}.")
    return record_event(
        session,
        case_id=original.case_id,
        kind=AuditKind.AUDIT_MARKED_IN_ERROR,
        actor=actor,
        data={"event": seq, "kind": original.kind, "reason": reason.strip()},
    )


def event_of_case(session: Session, case_id: int, seq: int) -> AuditEvent | None:
    """Event `seq`, if it is one of the case's."""
    return session.scalars(
        select(AuditEvent).where(AuditEvent.case_id == case_id, AuditEvent.seq == seq)
    ).first()


def marked_in_error(session: Session, case_id: int) -> dict[int, str]:
    """The case's events marked in error, by sequence number, with the reason given."""
    corrections = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.case_id == case_id, AuditEvent.kind == AuditKind.AUDIT_MARKED_IN_ERROR)
        .order_by(AuditEvent.seq)
    )
    return {int(event.data["event"]): str(event.data["reason"]) for event in corrections}


def last_stop(events: Iterable[AuditEvent]) -> AuditEvent | None:
    """The `flow.stopped` event if that is the latest word among these, in order."""
    latest = None
    for event in events:
        if event.kind in FLOW_KINDS:
            latest = event
    return latest if latest is not None and latest.kind == AuditKind.FLOW_STOPPED else None


def procedure_stopped(session: Session, case_id: int) -> AuditEvent | None:
    """The `flow.stopped` event if that is the latest word on the case's procedure."""
    latest = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.case_id == case_id, AuditEvent.kind.in_(FLOW_KINDS))
        .order_by(AuditEvent.seq.desc())
        .limit(1)
    )
    return last_stop(latest)


def stop_recorded(session: Session, case_id: int, flow_run_id: str, since: str) -> bool:
    """Whether this stop of the run (its state since `since`) is already in the case's trail.

    Each stop is flagged once ever: a restart recorded meanwhile does not make a stop read
    before it new again.
    """
    stops = session.scalars(
        select(AuditEvent.data).where(
            AuditEvent.case_id == case_id, AuditEvent.kind == AuditKind.FLOW_STOPPED
        )
    )
    return any(
        data.get("flow_run_id") == flow_run_id and data.get("since") == since for data in stops
    )


def stopped_among(session: Session, case_ids: list[int]) -> set[int]:
    """Which of these cases' procedures have stopped (their latest flow event says so)."""
    latest: dict[int, str] = {}
    for start in range(0, len(case_ids), 500):
        for case_id, kind in session.execute(
            select(AuditEvent.case_id, AuditEvent.kind)
            .where(
                AuditEvent.case_id.in_(case_ids[start : start + 500]),
                AuditEvent.kind.in_(FLOW_KINDS),
            )
            .order_by(AuditEvent.seq)
        ):
            if case_id is not None:
                latest[case_id] = kind
    return {case_id for case_id, kind in latest.items() if kind == AuditKind.FLOW_STOPPED}


def count_since(session: Session, case_id: int, kind: AuditKind, since: datetime) -> int:
    """How many events of `kind` the case has had since `since`."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.case_id == case_id, AuditEvent.kind == kind, AuditEvent.at >= since)
        )
        or 0
    )


def first_for_step(session: Session, case_id: int, kind: AuditKind, step: str) -> datetime | None:
    """When the case first had an event of `kind` about `step` (e.g. a request first made)."""
    rows = session.execute(
        select(AuditEvent.at, AuditEvent.data)
        .where(AuditEvent.case_id == case_id, AuditEvent.kind == kind)
        .order_by(AuditEvent.seq)
    ).all()
    return next((at for at, data in rows if data.get("step") == step), None)


def data_of(session: Session, case_id: int, kind: AuditKind) -> list[dict[str, Any]]:
    """The data of each of the case's events of `kind`, oldest first."""
    return list(
        session.scalars(
            select(AuditEvent.data)
            .where(AuditEvent.case_id == case_id, AuditEvent.kind == kind)
            .order_by(AuditEvent.seq)
        )
    )


def newest_by_step(session: Session, case_id: int, kind: AuditKind) -> dict[str, AuditEvent]:
    """The case's newest event of `kind` about each step."""
    rows = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.case_id == case_id, AuditEvent.kind == kind)
        .order_by(AuditEvent.seq)
    )
    return {str(event.data.get("step")): event for event in rows}


def latest_events(
    session: Session, case_id: int, *, access: bool, limit: int
) -> tuple[list[AuditEvent], int]:
    """The newest `limit` events of the case, oldest first, and how many there are in all:
    its access log (who opened the case, its evidence, its packs) or everything else."""
    kinds = AuditEvent.kind.in_(ACCESS_KINDS)
    return _newest(
        session, (AuditEvent.case_id == case_id, kinds if access else not_(kinds)), limit
    )


def events_of_kinds(
    session: Session, case_id: int, kinds: Iterable[str], *, limit: int
) -> tuple[list[AuditEvent], int]:
    """The newest `limit` of the case's events of these kinds, oldest first, and how many
    there are in all."""
    which = (AuditEvent.case_id == case_id, AuditEvent.kind.in_(list(kinds)))
    return _newest(session, which, limit)


def _newest(
    session: Session, which: tuple[ColumnElement[bool], ...], limit: int
) -> tuple[list[AuditEvent], int]:
    newest = session.scalars(
        select(AuditEvent).where(*which).order_by(AuditEvent.seq.desc()).limit(limit)
    )
    total = session.scalar(select(func.count()).select_from(AuditEvent).where(*which))
    return list(reversed(list(newest))), int(total or 0)


def case_events(session: Session, case_id: int) -> list[AuditEvent]:
    return list(
        session.scalars(
            select(AuditEvent).where(AuditEvent.case_id == case_id).order_by(AuditEvent.seq)
        )
    )


def hash_at(session: Session, chain: str, chain_seq: int) -> str | None:
    """The hash of the event at `chain_seq` in `chain`, or None if there is no such event."""
    return session.scalar(
        select(AuditEvent.hash).where(AuditEvent.chain == chain, AuditEvent.chain_seq == chain_seq)
    )


@dataclass
class ChainReport:
    checked: int
    ok: bool
    problem: str = ""
    bad_seq: int | None = None
    chains: int = 0  # how many chains were checked
    # Each chain's length and last hash as verified (when intact): what a checkpoint signs.
    heads: dict[str, tuple[int, str]] = field(default_factory=dict)


# What verification reads of each event: plain rows, its data as the stored text, so
# nothing is decoded and re-encoded on the way to the hash (a million events in seconds).
_LINKS = (
    "SELECT seq, chain, chain_seq, case_id, kind, actor, at, CAST(data AS TEXT), prev_hash, "
    "hash FROM audit_events"
)


# PostgreSQL gives the time as UTC text (in ISO style, which `stretch_rows` asks for), so
# no datetime is made for each event; `_stored_at_text` turns it into the hashed form.
# Half as costly for the server as to_char with the hashed form's pattern.
_PG_AT = "CAST(at AT TIME ZONE 'UTC' AS TEXT)"


# What a pass over many events reads: as `_LINKS`, but no case is '' (as it is hashed).
# PostgreSQL gives the event's number and its case as text, so no int is made of them to be
# written back (SQLite's CAST costs more than that: it gives ints), and the time as `_PG_AT`.
_STRETCH = (
    "SELECT {seq}, chain, chain_seq, {case}, kind, actor, {at}, CAST(data AS TEXT), prev_hash, "
    "hash FROM audit_events"
)
_SQLITE_STRETCH = _STRETCH.format(seq="seq", case="IFNULL(case_id, '')", at="at")
_PG_STRETCH = _STRETCH.format(
    seq="CAST(seq AS TEXT)", case="COALESCE(CAST(case_id AS TEXT), '')", at=_PG_AT
)


def _links(session: Session, where: str, params: dict[str, Any]) -> list[Any]:
    return list(session.execute(text(f"{_LINKS} WHERE {where}"), params).all())


def rehash(row: Any) -> str:
    """What the event's hash should be, from what it says and the hash it follows: a row
    of `_LINKS`, or an AuditEvent."""
    seq, chain, chain_seq, case_id, kind, actor, at, data, prev, _ = (
        (
            row.seq,
            row.chain,
            row.chain_seq,
            row.case_id,
            row.kind,
            row.actor,
            row.at,
            row.data,
            row.prev_hash,
            row.hash,
        )
        if isinstance(row, AuditEvent)
        else row
    )
    if chain == LEGACY:
        stored = data if isinstance(data, dict) else json.loads(data)
        at = at if isinstance(at, datetime) else datetime.fromisoformat(_stored_at_text(at))
        return legacy_hash(prev, seq, case_id, kind, actor, at, stored)
    stored_text = data if isinstance(data, str) else stored_json(data)
    return event_hash(
        prev, seq, chain, chain_seq, case_id, kind, actor, _stored_at_text(at), stored_text
    )


def verify_chain(
    session: Session, batch: int = 5000, chains: Iterable[str] | None = None
) -> ChainReport:
    """Recompute every hash of every chain (or of `chains`) in order; report the first event
    that does not fit."""
    low, high = id_range(session)
    if chains is None:
        return join_stretches(session, [verify_stretch(session, low, high + 1, batch=batch)])
    return join_stretches(
        session,
        [verify_stretch(session, low, high + 1, chain, batch) for chain in sorted(chains)],
    )


def id_range(session: Session) -> tuple[int, int]:
    """The lowest and highest row id of the trail (0, 0 when it is empty)."""
    low, high = session.execute(select(func.min(AuditEvent.id), func.max(AuditEvent.id))).one()
    return int(low or 0), int(high or 0)


@dataclass
class Stretch:
    """What re-hashing the events with ids in one range found: the first problem inside it,
    and where each chain enters and leaves the range, for joining ranges up."""

    checked: int = 0
    problem: tuple[int, str, str, int] | None = None  # seq, chain, what, place expected
    firsts: dict[str, tuple[int, str, int]] = field(default_factory=dict)  # place, prev, seq
    lasts: dict[str, tuple[int, str]] = field(default_factory=dict)  # place, hash


def stretch_rows(
    session: Session, low: int, high: int, chain: str | None = None, batch: int = 10_000
) -> Generator[Sequence[Any], None, None]:
    """The events with `low <= id < high` (of one chain, if given) in id order, one by one
    as the driver's plain rows: those of `_STRETCH`.

    One sequential read of the table through the driver's own cursor: reading a chain at a
    time by its index costs twice as much, and SQLAlchemy's rows half as much again. On
    PostgreSQL the rows come in chunks of `batch` as the server finds them (libpq 17 and
    later), so the server reads on while the rows before are hashed, and no process holds
    its whole range in memory. A reader that stops early (closes this) has the driver cancel
    the statement, which aborts the transaction: to go on using it, read the rest first.
    """
    raw = session.connection().connection.dbapi_connection
    assert raw is not None
    sqlite = session.get_bind().dialect.name == "sqlite"
    mark = "?" if sqlite else "%s"
    links = _SQLITE_STRETCH if sqlite else _PG_STRETCH
    which = f"chain = {mark} AND " if chain is not None else ""
    params = (chain, low, high) if chain is not None else (low, high)
    statement = f"{links} WHERE {which}id >= {mark} AND id < {mark} ORDER BY id"
    cursor: Any = raw.cursor()
    with contextlib.closing(cursor):
        if sqlite:
            cursor.execute(statement, params)
            while rows := cursor.fetchmany(batch):
                yield from rows
            return
        cursor.execute("SET LOCAL datestyle TO 'ISO'")  # the times' shape `_PG_AT` relies on
        if _streams_in_chunks():
            yield from cursor.stream(statement, params, size=batch)
        else:
            cursor.execute(statement, params)
            yield from cursor


def _streams_in_chunks() -> bool:
    """Whether psycopg can stream a result in chunks (libpq 17 and later)."""
    try:
        from psycopg import capabilities
    except ImportError:  # psycopg before 3.2
        return False
    return capabilities.has_stream_chunked()


def verify_stretch(
    session: Session, low: int, high: int, chain: str | None = None, batch: int = 10_000
) -> Stretch:
    """Re-hash every event with `low <= id < high` (of one chain, if given) in one pass in id
    order (the order each chain was written in), following every chain at once."""
    found = Stretch()
    firsts, lasts = found.firsts, found.lasts
    sha256 = hashlib.sha256
    checked = 0
    problem = None
    with contextlib.closing(stretch_rows(session, low, high, chain, batch)) as rows:
        for row in rows:
            # The number and the case come as they are written in the hash (`_STRETCH`).
            seq, chain_of, position, case, kind, actor, at, data, prev_hash, digest = row
            last = lasts.get(chain_of)
            if last is None:
                firsts[chain_of] = (position, prev_hash, int(seq))
            elif position != last[0] + 1:
                problem = (int(seq), chain_of, "missing", last[0] + 1)
                break
            elif prev_hash != last[1]:
                problem = (int(seq), chain_of, "unlinked", position)
                break
            if chain_of == LEGACY:
                expected = rehash(
                    (int(seq), chain_of, position, int(case) if case else None, *row[4:])
                )
            else:
                # `event_hash` written out in the loop: calling it (and `_stored_at_text`
                # for the two common shapes of time) would cost a tenth more for each event.
                size = len(at) if isinstance(at, str) else 0
                if size == 26 and at[10] == " ":
                    said = f"{at[:10]}T{at[11:]}+00:00"
                elif size == 19 and at[10] == " ":
                    said = f"{at[:10]}T{at[11:]}.000000+00:00"
                else:
                    said = _stored_at_text(at)
                expected = sha256(
                    f"{prev_hash}{seq}|{chain_of}|{position}|{case}|{len(kind)}:{kind}|"
                    f"{len(actor)}:{actor}|{said}|{data}".encode()
                ).hexdigest()
            if digest != expected:
                problem = (int(seq), chain_of, "changed", position)
                break
            lasts[chain_of] = (position, digest)
            checked += 1
        if problem is not None:  # the rest is read, so the transaction can name the problem
            for _ in rows:
                pass
    found.checked, found.problem = checked, problem
    return found


def join_stretches(session: Session, stretches: list[Stretch]) -> ChainReport:
    """One report from consecutive ranges: each range's own problem, and each chain's entry
    into a range checked against where it left the ranges before."""
    heads: dict[str, tuple[int, str]] = {}
    checked = 0
    for stretch in stretches:
        problem = None
        for chain, (position, prev, seq) in sorted(
            stretch.firsts.items(), key=lambda item: item[1][2]
        ):
            place, digest = heads.get(chain, (0, GENESIS))
            if position != place + 1:
                problem = (seq, chain, "missing", place + 1)
            elif prev != digest:
                problem = (seq, chain, "unlinked", position)
            if problem is not None:
                break
        if stretch.problem is not None and (problem is None or stretch.problem[0] < problem[0]):
            problem = stretch.problem
        if problem is not None:
            return _broken(session, problem, checked + stretch.checked, heads, stretch)
        checked += stretch.checked
        heads.update(stretch.lasts)
    return ChainReport(checked=checked, ok=True, chains=len(heads), heads=heads)


def _broken(
    session: Session,
    problem: tuple[int, str, str, int],
    checked: int,
    heads: dict[str, tuple[int, str]],
    stretch: Stretch,
) -> ChainReport:
    seq, chain, what, place = problem
    name = chain_names(session, [chain])[chain]
    said = {
        "missing": f"the event at position {place} of {name} is missing "
        f"(the next one found is event {seq})",
        "unlinked": f"event {seq} does not follow the event before it in {name}",
        "changed": f"event {seq} was changed after it was written",
    }[what]
    chains = len(set(heads) | set(stretch.firsts))
    return ChainReport(checked=checked, ok=False, problem=said, bad_seq=seq, chains=chains)


@dataclass
class CaseCheck:
    """What re-hashing one case's events found."""

    checked: int
    ok: bool
    problem: str = ""
    bad_seq: int | None = None


def verify_case(session: Session, case_id: int) -> CaseCheck:
    """Recompute each of the case's events and check each follows the event before it.

    A case's events are spread along its school's chain among other cases' events, so each
    one's link is checked against its own predecessor in the chain, wherever that is.
    """
    rows = _links(session, "case_id = :case_id ORDER BY seq", {"case_id": case_id})
    wanted = {(row.chain, row.chain_seq - 1) for row in rows if row.chain_seq > 1}
    before = _hashes_at(session, wanted)
    for checked, row in enumerate(rows):
        prev = GENESIS if row.chain_seq == 1 else before.get((row.chain, row.chain_seq - 1))
        if row.hash != rehash(row):
            return CaseCheck(
                checked, False, f"event {row.seq} was changed after it was written", row.seq
            )
        if prev is None:
            return CaseCheck(
                checked, False, f"the event before event {row.seq} is missing", row.seq
            )
        if row.prev_hash != prev:
            return CaseCheck(
                checked, False, f"event {row.seq} does not follow the event before it", row.seq
            )
    return CaseCheck(len(rows), True)


def _hashes_at(session: Session, places: set[tuple[str, int]]) -> dict[tuple[str, int], str]:
    found: dict[tuple[str, int], str] = {}
    by_chain: dict[str, list[int]] = {}
    for chain, position in places:
        by_chain.setdefault(chain, []).append(position)
    for chain, positions in by_chain.items():
        for start in range(0, len(positions), 500):
            for position, digest in session.execute(
                select(AuditEvent.chain_seq, AuditEvent.hash).where(
                    AuditEvent.chain == chain,
                    AuditEvent.chain_seq.in_(positions[start : start + 500]),
                )
            ):
                found[(chain, position)] = digest
    return found


def case_links(session: Session, case_id: int) -> list[dict[str, Any]]:
    """The case's events as stored (data as its stored text, time as hashed): everything
    needed to re-hash each one away from the database."""
    keys = ("seq", "chain", "chain_seq", "case_id", "kind", "actor", "at", "data")
    found = []
    for row in _links(session, "case_id = :case_id ORDER BY seq", {"case_id": case_id}):
        event = dict(zip(keys, row[:8], strict=True))
        event["at"] = _stored_at_text(row[6])
        event["prev_hash"], event["hash"] = row[8], row[9]
        found.append(event)
    return found


def spine(session: Session, chain: str, first: int, last: int) -> list[tuple[int, str, str]]:
    """Each event's place, previous hash and hash on `chain` from `first` to `last`: how a
    case's events hang together with the rest of the chain, without the rest's content."""
    rows = session.execute(
        select(AuditEvent.chain_seq, AuditEvent.prev_hash, AuditEvent.hash)
        .where(
            AuditEvent.chain == chain,
            AuditEvent.chain_seq >= first,
            AuditEvent.chain_seq <= last,
        )
        .order_by(AuditEvent.chain_seq)
    )
    return [(position, prev, digest) for position, prev, digest in rows]


def rehash_stored(event: dict[str, Any]) -> str:
    """What an event from `case_links` should hash to (offline: no database needed)."""
    row = tuple(event[key] for key in ("seq", "chain", "chain_seq", "case_id", "kind", "actor"))
    return rehash((*row, event["at"], event["data"], event["prev_hash"], event["hash"]))
