"""The worker's mail loop, on its own so that it imports no Prefect: a process that only
sends mail (as the crash tests start, several times each) is up in a moment."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from core.settings import get_settings
from db.outbox_claims import mail_due
from mail.sender import deliver_due

log = logging.getLogger("casework.worker")


async def pause(stop: asyncio.Event, seconds: float, wake: asyncio.Event | None = None) -> None:
    """Sleep, waking early when `stop` is set, or `wake` (which is then cleared)."""
    if wake is None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=seconds)
        return
    loop = asyncio.get_running_loop()
    began = loop.time()
    waits = {asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())}
    try:
        await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiting in waits:
            waiting.cancel()
    # While work keeps coming (a busy morning: every step of every flow queues mail), the
    # loop goes round at most every WAKE_GAP seconds, not as fast as the signals arrive.
    gap = began + min(seconds, WAKE_GAP) - loop.time()
    if gap > 0 and not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=gap)
    wake.clear()


# The least time between two passes of a loop that new work wakes (see `pause`).
WAKE_GAP = 0.05


async def run_sender(
    stop: asyncio.Event, idle_seconds: float = 0.5, wake: asyncio.Event | None = None
) -> None:
    """Deliver mail until `stop`; a pass ends when nothing is due. `wake` is set when mail
    is queued (db/wake.py), so it leaves at once rather than at the next look."""
    settings = get_settings()
    while not stop.is_set():
        sent = 0
        try:
            sent = await deliver_due(settings, stop=stop)
        except Exception:  # a bad pass must not stop the mail: log it and go round again
            log.exception("sender pass failed")
        if not sent:
            await wait_for_mail(stop, idle_seconds, wake)


# How often an idle sender looks for new mail (a read without a lock), so the next
# request's email leaves within a moment of being queued.
PEEK_SECONDS = 0.1


async def wait_for_mail(stop: asyncio.Event, most: float, wake: asyncio.Event | None) -> None:
    """Return as soon as mail is due, or after `most` seconds (a full pass then also takes
    rows whose sender died)."""
    deadline = asyncio.get_running_loop().time() + most
    while not stop.is_set() and asyncio.get_running_loop().time() < deadline:
        await pause(stop, PEEK_SECONDS, wake)
        try:
            if await asyncio.to_thread(mail_due):
                return
        except Exception:  # the database is away: the full pass will say so
            return
