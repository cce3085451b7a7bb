"""Health and readiness over HTTP for the worker, which has no web app of its own.

`GET /healthz` answers 200 while the process's event loop runs (a loop stuck in a
blocking call cannot answer at all). `GET /readyz` answers 200 when the database answers
with the newest schema and each of the worker's loops has gone round recently, else 503
with what is wrong. Both bodies are JSON. A few lines of asyncio rather than a web
framework: two fixed answers, on a port the orchestrator probes (`health_port`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable

from core.settings import Settings
from db.migrate import schema_behind


class Heartbeats:
    """When each of a process's loops last went round, and how stale counts as stuck."""

    def __init__(self, limits: dict[str, float]) -> None:
        self.limits = limits
        now = time.monotonic()
        self.last = {name: now for name in limits}

    def beat(self, name: str) -> None:
        self.last[name] = time.monotonic()

    def stuck(self) -> list[str]:
        """The loops that have not gone round within their limit, in words."""
        now = time.monotonic()
        return [
            f"the {name} has not gone round for {now - self.last[name]:.0f} s"
            for name, limit in self.limits.items()
            if now - self.last[name] > limit
        ]


def readiness(settings: Settings, beats: Heartbeats) -> tuple[int, dict[str, object]]:
    """The status code and body of /readyz."""
    problems = [p for p in [schema_behind(settings.database_url)] if p] + beats.stuck()
    if problems:
        return 503, {"status": "not ready", "message": "; ".join(problems)}
    return 200, {"status": "ready"}


async def serve_health(settings: Settings, beats: Heartbeats, stop: asyncio.Event) -> None:
    """Answer /healthz and /readyz on `health_host:health_port` until `stop` (0: no server)."""
    if not settings.health_port:
        return

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):  # a probe that hangs up is no concern of ours
            line = await asyncio.wait_for(reader.readline(), 5)
            path = line.split()[1].decode("ascii", "replace") if len(line.split()) > 1 else ""
            code, body = await respond(path, lambda: readiness(settings, beats))
            payload = json.dumps(body).encode()
            reason = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}[code]
            writer.write(
                f"HTTP/1.1 {code} {reason}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n".encode()
                + payload
            )
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, settings.health_host, settings.health_port)
    async with server:
        await stop.wait()


async def respond(
    path: str, ready: Callable[[], tuple[int, dict[str, object]]]
) -> tuple[int, dict[str, object]]:
    if path == "/healthz":
        return 200, {"status": "ok"}
    if path == "/readyz":
        return await asyncio.to_thread(ready)  # the database check blocks
    return 404, {"status": "not found", "message": "Ask /healthz or /readyz."}
