"""The web app's thread pool: how many requests a process works on at once
(CASEWORK_WEB_THREADS; by default two per core), the rest waiting their turn."""

from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient

from core.settings import Settings, get_settings


def most_at_once(requests: int) -> int:
    """Send `requests` at once to a route that takes a moment; the most it ran together."""
    from api.app import create_app

    app = create_app()
    lock = threading.Lock()
    running = [0, 0]  # now, most

    @app.get("/slow")
    def slow() -> dict[str, str]:
        with lock:
            running[0] += 1
            running[1] = max(running)
        time.sleep(0.3)
        with lock:
            running[0] -= 1
        return {"status": "done"}

    with TestClient(app) as client, ThreadPoolExecutor(requests) as pool:
        answers = list(pool.map(lambda _: client.get("/slow").status_code, range(requests)))
    assert answers == [200] * requests  # every one answered in the end
    return running[1]


def test_a_process_works_on_as_many_requests_as_it_has_threads(
    configured: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CASEWORK_WEB_THREADS", "2")
    get_settings.cache_clear()
    assert most_at_once(6) == 2


def test_by_default_a_process_has_two_threads_per_core(configured: Settings) -> None:
    cores = os.cpu_count() or 1
    assert most_at_once(2 * cores + 2) == 2 * cores
