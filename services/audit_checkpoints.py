"""Signed checkpoints of the audit chain, kept outside the database.

The hash chain finds an event changed or removed in the middle of the trail. It cannot see
the newest events removed, a whole chain rewritten by someone who recomputed every hash, or
an older backup restored. A checkpoint records how long the chain was and the hash of its
last event, signed with a key that is not in the database, on a line appended to a log that
is not in the database either. Verifying compares the chain with the last checkpoint.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from core.settings import Settings
from db.audit import chain_head, hash_at
from db.models import utcnow
from db.session import Session


@dataclass(frozen=True)
class Checkpoint:
    at: str  # when it was written (ISO 8601, UTC)
    length: int  # the number of the chain's last event
    head: str  # that event's hash
    mac: str  # HMAC-SHA256 of the three, with the audit key


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
    return path.read_text().strip().encode()


def signature(key: bytes, at: str, length: int, head: str) -> str:
    return hmac.new(key, f"{at}|{length}|{head}".encode(), hashlib.sha256).hexdigest()


def write_checkpoint(session: Session, settings: Settings) -> Checkpoint:
    """Sign the chain as it is now and append that to the checkpoint log."""
    length, head = chain_head(session)
    at = utcnow().isoformat(timespec="seconds")
    point = Checkpoint(at, length, head, signature(audit_key(settings), at, length, head))
    path = settings.audit_checkpoint_path
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as log:
        log.write(json.dumps(asdict(point), sort_keys=True) + "\n")
    return point


def read_checkpoints(settings: Settings) -> Checkpoints:
    """The last good checkpoint, and the first line that is not one (forged or damaged)."""
    path = settings.audit_checkpoint_path
    if not path.exists():
        return Checkpoints(None)
    key, last = audit_key(settings), None
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        try:
            point = Checkpoint(**json.loads(line))
            good = hmac.compare_digest(
                point.mac, signature(key, point.at, point.length, point.head)
            )
        except (ValueError, TypeError):
            good = False
        if not good:
            return Checkpoints(
                last, f"line {number} of the checkpoint log is not signed by the key"
            )
        last = point
    return Checkpoints(last)


def compare_with_checkpoint(session: Session, settings: Settings) -> str:
    """What is wrong with the chain against the last checkpoint; empty if nothing."""
    found = read_checkpoints(settings)
    if found.problem or found.last is None:
        return found.problem
    point = found.last
    length, _ = chain_head(session)
    if length < point.length:
        return (
            f"the chain ends at event {length} but the checkpoint of {point.at} saw "
            f"{point.length}: the newest events were removed, or an older copy of the "
            "database was restored"
        )
    if hash_at(session, point.length) != point.head:
        return (
            f"event {point.length} is not the one the checkpoint of {point.at} signed: "
            "the chain was rewritten"
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
    with open(path, "rb") as log:
        log.seek(max(0, path.stat().st_size - 1024))
        last = log.read().decode("utf-8", "replace").splitlines()[-1]
    try:
        written = datetime.fromisoformat(json.loads(last)["at"])
    except (ValueError, KeyError, TypeError):
        return True  # a damaged last line: sign a good one after it
    return utcnow() - written >= timedelta(minutes=settings.audit_checkpoint_minutes)
