"""When a decision may restart a run Prefect suspended without its input schema."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from prefect.client.schemas.objects import State
from prefect.states import Suspended

from core.enums import IncidentType
from flows import trigger
from flows.trigger import SCHEMA_GRACE, schema_never_came


def test_a_run_that_has_just_suspended_is_given_time_to_save_its_schema() -> None:
    just_now: State[Any] = Suspended()
    just_now.timestamp = datetime.now(UTC)
    assert not schema_never_came(just_now), "a live run saves it in a moment: wait"
    long_ago: State[Any] = Suspended()
    long_ago.timestamp = datetime.now(UTC) - SCHEMA_GRACE - timedelta(seconds=1)
    assert schema_never_came(long_ago), "its process died before saving it: run it again"
    assert not schema_never_came(None)


class Deployments:
    """Prefect's client as `start_case_flow` uses it, recording each call; its deployment
    was made again under the same name (a new id) after the first run was created."""

    def __init__(self) -> None:
        self.ids = [uuid4()]
        self.calls: list[str] = []

    def __enter__(self) -> Deployments:
        return self

    def __exit__(self, *_: object) -> None:
        return None

    def read_deployment_by_name(self, name: str) -> Any:
        self.calls.append(f"read {name}")
        return SimpleNamespace(id=self.ids[-1])

    def create_flow_run_from_deployment(self, deployment_id: UUID, **_: Any) -> Any:
        self.calls.append("create")
        if deployment_id != self.ids[-1]:
            request = httpx.Request("POST", "http://prefect.test/api/deployments/x")
            raise httpx.HTTPStatusError(
                "gone", request=request, response=httpx.Response(404, request=request)
            )
        return SimpleNamespace(id=uuid4())


def test_a_case_s_run_is_one_call_once_the_deployment_is_known_and_survives_it_being_made_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    prefect = Deployments()
    monkeypatch.setattr(trigger, "prefect_client", lambda: prefect)
    monkeypatch.setattr(trigger, "_deployment_ids", {})
    trigger.start_case_flow(1, IncidentType.PUPIL_CONTACT)
    trigger.start_case_flow(2, IncidentType.PUPIL_CONTACT)
    assert prefect.calls == ["read pupil_contact/pupil_contact", "create", "create"]
    prefect.ids.append(uuid4())  # deleted and served again: a new id
    prefect.calls.clear()
    assert trigger.start_case_flow(3, IncidentType.PUPIL_CONTACT)
    assert prefect.calls == ["create", "read pupil_contact/pupil_contact", "create"]
