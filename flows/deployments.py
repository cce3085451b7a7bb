"""The runner: serves one deployment per incident type (`casework runner` starts it)."""

from __future__ import annotations

from prefect import Flow, serve

from flows.online_abuse import online_abuse
from flows.parent_contact import parent_contact
from flows.pupil_contact import pupil_contact
from flows.staff_conduct import staff_conduct

FLOWS: dict[str, Flow] = {
    "pupil_contact": pupil_contact,
    "parent_contact": parent_contact,
    "online_abuse": online_abuse,
    "staff_conduct": staff_conduct,
}


def serve_all(limit: int = 8) -> None:
    """Block, running flow runs for every incident type as the server schedules them."""
    serve(
        *(f.to_deployment(name=slug) for slug, f in FLOWS.items()),
        limit=limit,
        print_starting_message=False,
    )


if __name__ == "__main__":
    serve_all()
