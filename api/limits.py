"""Rate limits on what an attacker would repeat: sign-in requests, codes, and the emailed
links (sign-in, approval and task pages, and the answers posted on them).

The `limits` library counts in memory with a moving window. One web process serves
Casework (`casework web`), so its memory is the whole picture; each app (and so each test)
has its own counters. The limits are settings, in the library's notation.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from fastapi import Request
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from api.errors import AppError
from api.security import client_ip
from core.settings import get_settings


class RateLimited(AppError):
    """Too many tries: a 429 page that says when to try again."""

    def __init__(self, retry_after: int) -> None:
        minutes = max(1, math.ceil(retry_after / 60))
        when = "in a minute" if minutes == 1 else f"in {minutes} minutes"
        super().__init__(
            429,
            f"There have been too many tries from here. Nothing more was done. Wait and try "
            f"again {when}.",
            "Too many tries",
        )
        self.headers["Retry-After"] = str(retry_after)


class Limiter:
    """The counters of one app."""

    def __init__(self) -> None:
        self.limiter = MovingWindowRateLimiter(MemoryStorage())

    def hit(self, setting: str, *key: str) -> None:
        """Count one try against the limit named by the setting `setting`; raise
        `RateLimited` once the limit is used up."""
        item: RateLimitItem = parse(getattr(get_settings(), setting))
        if self.limiter.hit(item, setting, *key):
            return
        reset = self.limiter.get_window_stats(item, setting, *key).reset_time
        raise RateLimited(max(1, math.ceil(reset - time.time())))


def limiter_of(request: Request) -> Limiter:
    limiter: Limiter = request.app.state.limiter
    return limiter


def per_ip(setting: str) -> Callable[[Request], None]:
    """A dependency: count this request against `setting` for the client's address."""

    def check(request: Request) -> None:
        limiter_of(request).hit(setting, client_ip(request))

    return check


links_per_ip = per_ip("rate_links_per_ip")
