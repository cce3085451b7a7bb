"""Passing work on: the person chosen and the reason, and a school's escalation chains.

Pure validation with plain-English messages; whether the person chosen may take the work is
the access policy's (services/handover.py asks it).
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import field_validator

from core.chains import CHAIN_LENGTH, CHAIN_OWNERS, CHAIN_ROLES, OWNER_TITLES
from core.enums import Role
from forms.common import CaseForm

MAX_REASON = 1000


class HandOverForm(CaseForm):
    """Who a request (or the case) goes to, and why."""

    to: int
    reason: str
    messages: ClassVar[dict[str, str]] = {
        "to": "Choose who it should go to.",
        "reason": f"Say why, in up to {MAX_REASON:,} characters.",
    }

    @field_validator("to", mode="before")
    @classmethod
    def _to(cls, value: object) -> int:
        text = str(value or "").strip()
        if not (text.isascii() and text.isdigit()) or len(text) > 10:
            raise ValueError("Choose who it should go to.")
        return int(text)

    @field_validator("reason")
    @classmethod
    def _reason(cls, value: str) -> str:
        if not value:
            raise ValueError("Say why, so the person taking it over and the record know.")
        if len(value) > MAX_REASON:
            raise ValueError(f"Keep the reason to {MAX_REASON:,} characters.")
        return value


def field_name(owner: Role, place: int) -> str:
    """The form field for one place in one chain: `chain_dsl_1`."""
    return f"chain_{owner.value}_{place}"


def check_chains(values: dict[str, str]) -> tuple[dict[Role, tuple[Role, ...]], dict[str, str]]:
    """The chains chosen on the settings form, and any problem keyed by field name."""
    chains: dict[Role, tuple[Role, ...]] = {}
    errors: dict[str, str] = {}
    known = {r.value: r for r in CHAIN_ROLES}
    for owner in CHAIN_OWNERS:
        chosen: list[Role] = []
        gap = False
        for place in range(1, CHAIN_LENGTH + 1):
            name = field_name(owner, place)
            raw = values.get(name, "").strip()
            if not raw:
                gap = True
                continue
            role = known.get(raw)
            if role is None:
                errors[name] = "Choose one of the roles in the list, or nobody."
            elif gap:
                errors[name] = "Fill the places in order: leave no empty place before this one."
            elif role == owner:
                first = f"{OWNER_TITLES[owner]} go to the {role.label.lower()} first"
                errors[name] = f"{first}: choose someone to come after them."
            elif role in chosen:
                title = OWNER_TITLES[owner].lower()
                errors[name] = f"{role.label} is already in the chain for {title}."
            else:
                chosen.append(role)
        chains[owner] = tuple(chosen)
    return chains, errors
