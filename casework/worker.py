"""The worker process: the outbox sender plus the periodic reconciler, side by side."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from casework.reconciler import reconcile_if_elected
from core.settings import get_settings
from mail.sender import deliver_due

log = logging.getLogger("casework.worker")


async def pause(stop: asyncio.Event, seconds: float) -> None:
    """Sleep, waking early when `stop` is set."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


async def run_sender(stop: asyncio.Event, idle_seconds: float = 0.5) -> None:
    """Deliver mail until `stop`; a pass ends when nothing is due."""
    settings = get_settings()
    while not stop.is_set():
        sent = 0
        try:
            sent = await deliver_due(settings, stop=stop)
        except Exception:  # a bad pass must not stop the mail: log it and go round again
            log.exception("sender pass failed")
        if not sent:
            await pause(stop, idle_seconds)


async def run_reconciler(stop: asyncio.Event) -> None:
    """Reconcile with Prefect every `reconcile_seconds` until `stop`: this worker's turn
    comes when no other worker is making a pass (casework/reconciler.py)."""
    settings = get_settings()
    while not stop.is_set():
        try:
            await asyncio.to_thread(reconcile_if_elected)
        except Exception:
            log.exception("reconciler pass failed")
        await pause(stop, settings.reconcile_seconds)


async def run_worker(stop: asyncio.Event, idle_seconds: float = 0.5) -> None:
    """Send mail and reconcile, each in its own task so a long letter never delays the other."""
    await asyncio.gather(run_sender(stop, idle_seconds), run_reconciler(stop))
