"""Signed checkpoints of the audit chain, kept outside the database.

The hash chains find an event changed or removed in the middle of the trail. They cannot see
the newest events removed, a whole chain rewritten by someone who recomputed every hash, or
an older backup restored. A checkpoint records how long each chain was and the hash of its
last event, signed with a key that is not in the database, on a line appended to a log that
is not in the database either. Verifying compares the chains with the last checkpoint.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from core.settings import Settings
from db.audit import GENESIS, LEGACY, chain_heads, chain_names, hash_at
from db.models import utcnow
from db.session import Session

Heads = dict[str, tuple[int, str]]  # chain -> (its length, its last event's hash)


@dataclass(frozen=True)
class Checkpoint:
    at: str  # when it was written (ISO 8601, UTC)
    chains: Heads
    mac: str  # HMAC-SHA256 of the time and every chain's length and head, with the audit key


@dataclass(frozen=True)
class Checkpoints:
    last: Checkpoint | None  # the newest one whose signature is good
    problem: str = ""  # a line that is not a good checkpoint


def audit_key(settings: Settings) -> bytes:
    """The signing key, made (readable by its owner only) the first time it is needed."""
    path = settings.audit_key_path
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
            out.write(secrets.token_hex(32))
    key = read_key(path)
    assert key is not None
    return key


def read_key(path: Path) -> bytes | None:
    """The key in a key file, or None if there is no such file (never makes one)."""
    return path.read_text().strip().encode() if path.is_file() else None


def signature(key: bytes, at: str, chains: Heads) -> str:
    signed = json.dumps(
        {chain: [length, head] for chain, (length, head) in chains.items()},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hmac.new(key, f"{at}|{signed}".encode(), hashlib.sha256).hexdigest()


def _legacy_signature(key: bytes, at: str, length: int, head: str) -> str:
    # Checkpoints written when there was one chain signed its length and head alone.
    return hmac.new(key, f"{at}|{length}|{head}".encode(), hashlib.sha256).hexdigest()


def write_checkpoint(
    session: Session, settings: Settings, heads: Heads | None = None
) -> Checkpoint:
    """Sign every chain's head (`heads` if given: those just verified, else as they are now)
    and append that to the checkpoint log."""
    chains = chain_heads(session) if heads is None else heads
    at = utcnow().isoformat(timespec="seconds")
    point = Checkpoint(at, chains, signature(audit_key(settings), at, chains))
    path = settings.audit_checkpoint_path
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as log:
        log.write(json.dumps(as_line(point), sort_keys=True) + "\n")
    return point


def as_line(point: Checkpoint) -> dict[str, object]:
    """A checkpoint as the log (and a case's audit bundle) writes it."""
    return {
        "at": point.at,
        "chains": {chain: list(head) for chain, head in point.chains.items()},
        "mac": point.mac,
    }


def parse_checkpoint(key: bytes, line: str) -> Checkpoint | None:
    """The checkpoint on one line of the log if its signature is good, else None."""
    try:
        raw = json.loads(line)
        at, mac = str(raw["at"]), str(raw["mac"])
        if "chains" not in raw:  # one chain, before each school had its own
            length, head = int(raw["length"]), str(raw["head"])
            good = hmac.compare_digest(mac, _legacy_signature(key, at, length, head))
            return Checkpoint(at, {LEGACY: (length, head)}, mac) if good else None
        chains = {str(c): (int(v[0]), str(v[1])) for c, v in raw["chains"].items()}
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        return None
    return (
        Checkpoint(at, chains, mac)
        if hmac.compare_digest(mac, signature(key, at, chains))
        else None
    )


def read_checkpoints(settings: Settings) -> Checkpoints:
    """The last good checkpoint, and the first line that is not one (forged or damaged)."""
    path = settings.audit_checkpoint_path
    if not path.exists():
        return Checkpoints(None)
    key, last = audit_key(settings), None
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        point = parse_checkpoint(key, line)
        if point is None:
            return Checkpoints(
                last, f"line {number} of the checkpoint log is not signed by the key"
            )
        last = point
    return Checkpoints(last)


def compare_with_checkpoint(
    session: Session, settings: Settings, chains: set[str] | None = None, heads: Heads | None = None
) -> str:
    """What is wrong with the chains (or `chains`) against the last checkpoint; empty if
    nothing. `heads` are the chains as just verified, if they were (else read as they are)."""
    found = read_checkpoints(settings)
    if found.problem or found.last is None:
        return found.problem
    return compare_heads(session, found.last, chains, heads)


def compare_heads(
    session: Session, point: Checkpoint, chains: set[str] | None = None, heads: Heads | None = None
) -> str:
    """The first chain that is shorter than `point` saw, or whose event there is not the one
    it signed; empty if every chain still holds what it signed."""
    heads = chain_heads(session) if heads is None else heads
    signed = {c: head for c, head in point.chains.items() if chains is None or c in chains}
    names = chain_names(session, signed)
    for chain, (signed_length, signed_head) in sorted(signed.items()):
        length, _ = heads.get(chain, (0, GENESIS))
        if length < signed_length:
            return (
                f"{names[chain]} ends at position {length} but the checkpoint of {point.at} "
                f"saw {signed_length}: the newest events were removed, or an older copy of "
                "the database was restored"
            )
        if hash_at(session, chain, signed_length) != signed_head:
            return (
                f"the event at position {signed_length} of {names[chain]} is not the one "
                f"the checkpoint of {point.at} signed: the chain was rewritten"
            )
    return ""


def checkpoint_due(settings: Settings) -> bool:
    """Whether the worker should write a checkpoint: none yet, or the last line is old.

    Asked on every reconciler pass, so it reads only the log's last line and checks no
    signatures: `verify` does that.
    """
    path = settings.audit_checkpoint_path
    if not path.exists() or path.stat().st_size == 0:
        return True
    try:
        written = datetime.fromisoformat(json.loads(last_line(path))["at"])
    except (ValueError, KeyError, TypeError):
        return True  # a damaged last line: sign a good one after it
    return utcnow() - written >= timedelta(minutes=settings.audit_checkpoint_minutes)


def last_line(path: Path, block: int = 8192) -> str:
    """The file's last line, read from the end (a line names every chain, so it can be long)."""
    with open(path, "rb") as log:
        end = log.seek(0, os.SEEK_END)
        start, tail = end, b""
        while start > 0 and tail.rstrip(b"\n").count(b"\n") == 0:
            start = max(0, start - block)
            log.seek(start)
            tail = log.read(end - start)
    return tail.rstrip(b"\n").rsplit(b"\n", 1)[-1].decode("utf-8", "replace")
