"""When a decision may restart a run Prefect suspended without its input schema."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from prefect.client.schemas.objects import State
from prefect.states import Suspended

from flows.trigger import SCHEMA_GRACE, schema_never_came


def test_a_run_that_has_just_suspended_is_given_time_to_save_its_schema() -> None:
    just_now: State[Any] = Suspended()
    just_now.timestamp = datetime.now(UTC)
    assert not schema_never_came(just_now), "a live run saves it in a moment: wait"
    long_ago: State[Any] = Suspended()
    long_ago.timestamp = datetime.now(UTC) - SCHEMA_GRACE - timedelta(seconds=1)
    assert schema_never_came(long_ago), "its process died before saving it: run it again"
    assert not schema_never_came(None)
