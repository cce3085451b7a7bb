"""The worker process: the outbox sender (casework/sending.py), new-case notices, the
hand-off, the periodic reconciler and the purge of unsent report drafts, side by side; the
first three are woken the moment new work of their kinds is signalled (db/wake.py) as well
as polling."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from casework.handoff import Pass, announce_new_cases, handoff_pass, next_wait, waiting_work
from casework.health import Heartbeats, serve_health
from casework.reconciler import reconcile_if_elected
from casework.sending import pause, run_sender
from core.settings import get_settings
from db.wake import Work, WorkSignal
from services.drafts import purge_expired

log = logging.getLogger("casework.worker")


class Wakes:
    """An event for each loop that waits for new work, set when work of its kinds is signalled."""

    def __init__(self) -> None:
        self.events: list[tuple[frozenset[Work], asyncio.Event]] = []

    def event(self, *works: Work) -> asyncio.Event:
        """An event set whenever any of `works` is signalled."""
        made = asyncio.Event()
        self.events.append((frozenset(works), made))
        return made

    def set(self, woken: frozenset[Work]) -> None:
        for works, waiting in self.events:
            if works & woken:
                waiting.set()


# How long one wait for a signal lasts before the watcher looks at `stop` again.
WATCH_SECONDS = 0.5


async def watch_for_work(stop: asyncio.Event, wakes: Wakes) -> None:
    """Wake the loops the moment a case is opened, a decision stored or an email queued,
    anywhere in the installation (db/wake.py); the loops' own polls are the safety net."""
    try:
        signal = await asyncio.to_thread(WorkSignal, get_settings().database_url)
    except Exception:
        log.exception("cannot listen for new work: the worker polls for it instead")
        return
    try:
        while not stop.is_set():
            try:
                woken = await asyncio.to_thread(signal.wait, WATCH_SECONDS)
                if woken:
                    wakes.set(woken)
            except Exception:
                log.exception("listening for new work failed: the worker polls for it instead")
                return
    finally:
        signal.close()


async def every(
    stop: asyncio.Event,
    seconds: float,
    work: Callable[[], object],
    failed: str,
    after: Callable[[], None] = lambda: None,
    wake: asyncio.Event | None = None,
) -> None:
    """Do `work` (in a thread) every `seconds`, or when `wake` is set, until `stop`, logging
    `failed` when it raises; `after` is called after each pass, whatever its outcome."""
    while not stop.is_set():
        try:
            await asyncio.to_thread(work)
        except Exception:
            log.exception(failed)
        after()
        await pause(stop, seconds, wake)


async def run_reconciler(stop: asyncio.Event, beats: Heartbeats | None = None) -> None:
    """Reconcile with Prefect every `reconcile_seconds` until `stop`: this worker's turn
    comes when no other worker is making a pass (casework/reconciler.py)."""
    seconds = get_settings().reconcile_seconds

    def beat() -> None:
        if beats is not None:
            beats.beat(RECONCILER)

    await every(stop, seconds, reconcile_if_elected, "reconciler pass failed", beat)


RECONCILER = "reconciler"


async def run_handoff(stop: asyncio.Event, wake: asyncio.Event | None = None) -> None:
    """Start new cases' flows and deliver stored decisions as soon as they are there (at
    once when `wake` is set for them)."""
    settings = get_settings()
    quick = settings.handoff_seconds
    wait = quick
    while not stop.is_set():
        done = Pass(0, frozenset({"the pass itself"}), soon=False)
        try:
            done = await asyncio.to_thread(handoff_pass)
        except Exception:
            log.exception("hand-off pass failed")
        waiting = len(done.left)
        wait = next_wait(quick, settings.reconcile_seconds, wait, done.handed, waiting, done.soon)
        if wait <= quick:
            await pause(stop, wait, wake)
        elif await until_new_work(stop, wait, quick, done.left, wake):
            # New work has its own short waits: a decision that reaches a run still on its
            # way to suspending is tried again in moments, not after the stuck one's wait.
            wait = quick


async def until_new_work(
    stop: asyncio.Event,
    most: float,
    every: float,
    stuck: frozenset[str],
    wake: asyncio.Event | None = None,
) -> bool:
    """Sleep up to `most` seconds while the `stuck` work makes no progress, looking every
    `every` seconds for other work (`waiting_work`); True when woken for it."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + most
    while not stop.is_set() and loop.time() < deadline:
        await pause(stop, min(every, max(0.0, deadline - loop.time())), wake)
        try:
            if await asyncio.to_thread(waiting_work) - stuck:
                return True
        except Exception:
            continue
    return False


async def run_announcer(stop: asyncio.Event, wake: asyncio.Event | None = None) -> None:
    """Tell the heads of new cases within moments of their reports, whatever the hand-off is
    doing: under a burst its calls to Prefect's server take seconds, and the first email
    of a case should not wait behind the flows of the cases before it."""
    failed = "telling the heads of new cases failed"
    await every(stop, get_settings().handoff_seconds, announce_new_cases, failed, wake=wake)


# Drafts are refused once a day old whenever they are opened; this only clears away the
# ones nobody came back to, with their files, so a few minutes late is soon enough.
PURGE_SECONDS = 600.0


async def run_draft_purge(stop: asyncio.Event) -> None:
    """Delete report drafts nobody sent within a day, and their quarantined files."""
    await every(stop, PURGE_SECONDS, purge_expired, "purging unsent report drafts failed")


async def run_worker(stop: asyncio.Event, idle_seconds: float = 0.5) -> None:
    """Send mail, tell the heads of new cases, hand work to Prefect and reconcile, each in its
    own task so a long letter never delays the others; answer health probes beside them (on
    the sender's loop)."""
    settings = get_settings()
    # A pass that has not ended in ten rounds' time (at least five minutes) is stuck.
    beats = Heartbeats({RECONCILER: max(300.0, 10 * settings.reconcile_seconds)})
    wakes = Wakes()
    await asyncio.gather(
        watch_for_work(stop, wakes),
        run_sender(stop, idle_seconds, wakes.event(Work.MAIL)),
        run_announcer(stop, wakes.event(Work.CASE)),
        run_handoff(stop, wakes.event(Work.CASE, Work.DECISION)),
        run_reconciler(stop, beats),
        run_draft_purge(stop),
        serve_health(settings, beats, stop),
    )
