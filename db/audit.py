"""The one audit writer, and the verifier of its hash chain.

Every event carries the hash of the one before it, so a row changed, removed or
inserted afterwards breaks the chain at that point and `verify_chain` says where.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, not_, select, text
from sqlalchemy.orm import Session

from core.enums import ACCESS_KINDS, FLOW_KINDS, AuditKind
from db.models import AuditEvent, Person, utcnow

GENESIS = "0" * 64
SYSTEM = "system"


def actor_label(person: Person | None) -> str:
    """How an actor is written in the trail: role and name, or 'system'."""
    if person is None:
        return SYSTEM
    return f"{person.name} ({person.role.value})"


def canonical(event: dict[str, Any]) -> bytes:
    return json.dumps(event, sort_keys=True, separators=(",", ":"), default=str).encode()


def event_hash(
    prev_hash: str,
    seq: int,
    case_id: int | None,
    kind: str,
    actor: str,
    at: datetime,
    data: dict[str, Any],
) -> str:
    body = {
        "seq": seq,
        "case_id": case_id,
        "kind": kind,
        "actor": actor,
        "at": at.astimezone(UTC).isoformat(timespec="microseconds"),
        "data": data,
    }
    return hashlib.sha256(prev_hash.encode() + canonical(body)).hexdigest()


def _lock_chain(session: Session) -> None:
    # PostgreSQL: serialise writers on the chain head for this transaction. SQLite
    # already holds the write lock (BEGIN IMMEDIATE), so nothing is needed there.
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(7311)"))


def chain_head(session: Session) -> tuple[int, str]:
    """The last event's sequence number and hash (0 and the genesis hash for none)."""
    last = session.execute(
        select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
    ).first()
    return (last[0], last[1]) if last else (0, GENESIS)


def record_event(
    session: Session,
    *,
    case_id: int | None,
    kind: str,
    actor: Person | None = None,
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event in the caller's transaction; never swallows an error."""
    _lock_chain(session)
    last_seq, prev = chain_head(session)
    seq = last_seq + 1
    at = utcnow()
    payload = json.loads(canonical(data or {}))  # what is hashed is exactly what is stored
    label = actor_label(actor)
    event = AuditEvent(
        seq=seq,
        case_id=case_id,
        kind=kind,
        actor=label,
        actor_id=actor.id if actor else None,
        at=at,
        data=payload,
        prev_hash=prev,
        hash=event_hash(prev, seq, case_id, kind, label, at, payload),
    )
    session.add(event)
    session.flush()
    return event


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
    which = (AuditEvent.case_id == case_id, kinds if access else not_(kinds))
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


def hash_at(session: Session, seq: int) -> str | None:
    """The hash of event `seq`, or None if there is no such event."""
    return session.scalar(select(AuditEvent.hash).where(AuditEvent.seq == seq))


@dataclass
class ChainReport:
    checked: int
    ok: bool
    problem: str = ""
    bad_seq: int | None = None


def verify_chain(session: Session, batch: int = 2000) -> ChainReport:
    """Recompute every hash in order; report the first event that does not fit."""
    prev, expected_seq, checked = GENESIS, 1, 0
    while True:
        rows = list(
            session.scalars(
                select(AuditEvent)
                .where(AuditEvent.seq >= expected_seq)
                .order_by(AuditEvent.seq)
                .limit(batch)
            )
        )
        if not rows:
            return ChainReport(checked=checked, ok=True)
        for ev in rows:
            problem = _check_one(ev, prev, expected_seq)
            if problem:
                return ChainReport(checked=checked, ok=False, problem=problem, bad_seq=ev.seq)
            prev, expected_seq, checked = ev.hash, ev.seq + 1, checked + 1


def _check_one(ev: AuditEvent, prev: str, expected_seq: int) -> str:
    if ev.seq != expected_seq:
        return f"event {expected_seq} is missing (next found is {ev.seq})"
    if ev.prev_hash != prev:
        return f"event {ev.seq} does not follow the event before it"
    if ev.hash != event_hash(prev, ev.seq, ev.case_id, ev.kind, ev.actor, ev.at, ev.data):
        return f"event {ev.seq} was changed after it was written"
    return ""
