"""Verifying every audit chain, several chains at a time in separate processes.

Re-hashing is Python work, one core per process, and chains are independent of each other,
so `casework audit verify` splits them over the machine's cores: a million events in
seconds rather than tens of seconds.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

from db.audit import ChainReport, verify_chain
from db.session import dispose_engine, reading

# Below this many events a second process costs more to start than it saves.
PARALLEL_FROM = 100_000


def split(heads: dict[str, tuple[int, str]], parts: int) -> list[list[str]]:
    """The chains in `parts` groups of about the same number of events, longest first."""
    groups: list[list[str]] = [[] for _ in range(parts)]
    sizes = [0] * parts
    for chain, (length, _) in sorted(heads.items(), key=lambda item: -item[1][0]):
        smallest = sizes.index(min(sizes))
        groups[smallest].append(chain)
        sizes[smallest] += length
    return [group for group in groups if group]


def _verify_group(url: str, chains: list[str]) -> ChainReport:
    with reading(url) as session:
        return verify_chain(session, chains=chains)


def verify_everything(
    url: str, heads: dict[str, tuple[int, str]], parallel_from: int = PARALLEL_FROM
) -> ChainReport:
    """Every chain re-hashed: in this process for a small trail, else one process a core."""
    workers = min(os.cpu_count() or 1, len(heads))
    if workers < 2 or sum(length for length, _ in heads.values()) < parallel_from:
        return _verify_group(url, sorted(heads))
    groups = split(heads, workers)
    dispose_engine(url)  # forked children must not share this process's connections
    with ProcessPoolExecutor(len(groups), mp_context=multiprocessing.get_context("fork")) as pool:
        reports = list(pool.map(_verify_group, [url] * len(groups), groups))
    broken = [
        (min(group), report) for group, report in zip(groups, reports, strict=True) if not report.ok
    ]
    checked = sum(report.checked for report in reports)
    if broken:
        first = min(broken, key=lambda found: found[0])[1]
        return ChainReport(checked, False, first.problem, first.bad_seq, len(heads))
    return ChainReport(checked, True, chains=len(heads))
