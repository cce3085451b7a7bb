"""The runner: serves one deployment per incident type (`casework runner` starts it)."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any

from prefect import Flow, serve

from core.enums import IncidentType
from flows.online_abuse import online_abuse
from flows.parent_contact import parent_contact
from flows.pupil_contact import pupil_contact
from flows.staff_conduct import staff_conduct

# Each flow and its deployment are named by the incident type's slug.
FLOWS: dict[IncidentType, Flow[[int], Coroutine[Any, Any, str]]] = {
    IncidentType.PUPIL_CONTACT: pupil_contact,
    IncidentType.PARENT_CONTACT: parent_contact,
    IncidentType.ONLINE_ABUSE: online_abuse,
    IncidentType.STAFF_CONDUCT: staff_conduct,
}


def serve_all(limit: int = 8) -> None:
    """Block, running flow runs for every incident type as the server schedules them."""
    serve(
        *(f.to_deployment(name=kind.value) for kind, f in FLOWS.items()),  # type: ignore[arg-type]
        limit=limit,
        print_starting_message=False,
    )


if __name__ == "__main__":
    serve_all()
