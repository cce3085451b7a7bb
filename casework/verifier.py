"""Verifying every audit chain, several chains at a time in separate processes.

Re-hashing is Python work, one core per process. `casework audit verify` splits the trail
by id into one range a core; each process reads its range in one pass and checks every
chain in it, and the ranges are then joined up (each chain must carry on where it left the
range before): a million events in seconds rather than tens of seconds.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

from core.files import FileStore, evidence_files, pack_files
from db.audit import (
    ChainReport,
    Stretch,
    id_range,
    join_stretches,
    verify_chain,
    verify_stretch,
)
from db.evidence import kept_evidence
from db.packs import kept_pack_files
from db.session import dispose_engine, reading

# Below this many events a second process costs more to start than it saves.
PARALLEL_FROM = 100_000


def stretches(low: int, high: int, parts: int) -> list[tuple[int, int]]:
    """Ids `low` to `high` in `parts` ranges [from, to) of about the same size, in order."""
    size = max(1, -(-(high - low + 1) // parts))
    return [(start, min(start + size, high + 1)) for start in range(low, high + 1, size)]


def _verify_stretch(url: str, low: int, high: int) -> Stretch:
    with reading(url) as session:
        return verify_stretch(session, low, high)


def verify_everything(url: str, parallel_from: int = PARALLEL_FROM) -> ChainReport:
    """Every chain re-hashed, the trail split by id over one process a core; a small trail
    in this process. Each range checks its own events, then the ranges are joined up."""
    with reading(url) as session:
        low, high = id_range(session)
    workers = os.cpu_count() or 1
    ranges = stretches(low, high, workers if high - low + 1 >= parallel_from else 1)
    if len(ranges) < 2:
        with reading(url) as session:
            return verify_chain(session)
    dispose_engine(url)  # forked children must not share this process's connections
    with ProcessPoolExecutor(len(ranges), mp_context=multiprocessing.get_context("fork")) as pool:
        found = list(
            pool.map(_verify_stretch, *zip(*[(url, a, b) for a, b in ranges], strict=True))
        )
    with reading(url) as session:
        return join_stretches(session, found)


def check_evidence() -> list[str]:
    """Each evidence file and each frozen case pack still held, re-hashed and compared with
    what was recorded when it was saved: a file changed or removed on disk is named."""
    with reading() as session:
        evidence = [
            (reference, f"evidence file {item}", name, digest)
            for reference, item, name, digest in kept_evidence(session)
        ]
        packs = kept_pack_files(session)
    return changed_files(evidence_files(), evidence) + changed_files(pack_files(), packs)


def changed_files(store: FileStore, kept: list[tuple[str, str, str, str]]) -> list[str]:
    """(case reference, what the file is, stored name, recorded SHA-256) -> what is wrong."""
    problems = []
    for reference, what, stored_name, recorded in kept:
        try:
            now = store.sha256(stored_name)
        except (OSError, ValueError):
            problems.append(f"{what} of case {reference} is missing")
            continue
        if now != recorded:
            problems.append(f"{what} of case {reference} has changed since it was saved")
    return problems
