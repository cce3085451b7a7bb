"""The worker process: the outbox sender plus the periodic reconciler."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from casework.mailer import deliver_due
from casework.reconciler import reconcile_once
from casework.settings import get_settings

log = logging.getLogger("casework.worker")


async def run_worker(stop: asyncio.Event, idle_seconds: float = 0.5) -> None:
    """Deliver mail continuously and reconcile every `reconcile_seconds`, until `stop`."""
    settings = get_settings()
    next_reconcile = 0.0
    while not stop.is_set():
        sent = 0
        try:
            sent = await deliver_due(settings)
            if time.monotonic() >= next_reconcile:
                await asyncio.to_thread(reconcile_once)
                next_reconcile = time.monotonic() + settings.reconcile_seconds
        except Exception:  # a bad pass must not stop the mail: log it and go round again
            log.exception("worker pass failed")
        if not sent:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=idle_seconds)
