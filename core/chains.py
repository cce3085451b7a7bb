"""Escalation chains: who a request goes to next when nobody answers it.

A school sets one chain for each kind of step (the headteacher's, the case lead's, HR's) on
its settings page; until it does, the defaults below apply. A chain lists roles in order;
the person the procedure asked comes first, implicitly. Pure rules: who holds each role at
a school, and whether they can take the request, is for services/handover.py.
"""

from __future__ import annotations

from collections.abc import Mapping

from core.enums import Role

# The kinds of step a chain is set for, as the procedure's owner role names them.
CHAIN_OWNERS = (Role.HEADTEACHER, Role.DSL, Role.HR)
OWNER_TITLES = {
    Role.HEADTEACHER: "The headteacher's steps",
    Role.DSL: "The case lead's tasks",
    Role.HR: "HR's tasks",
}
# Who a chain may send a request to: senior people at the school.
CHAIN_ROLES = (Role.DEPUTY_HEAD, Role.HEADTEACHER, Role.DSL, Role.DEPUTY_DSL, Role.CHAIR)
CHAIN_LENGTH = 3
# After the person asked: a head's step goes to the deputy head, who stands in for an absent
# head, then the chair of governors; the case lead's tasks (the DSL's, or a deputy's that the
# DSL hears of first) to the head, then the chair; HR's advice is chased by the head, who can
# pass it to another HR adviser.
DEFAULT_CHAINS: dict[Role, tuple[Role, ...]] = {
    Role.HEADTEACHER: (Role.DEPUTY_HEAD, Role.CHAIR),
    Role.DSL: (Role.HEADTEACHER, Role.CHAIR),
    Role.HR: (Role.HEADTEACHER,),
}
StoredChains = Mapping[str, list[str]]


def chains_of(stored: StoredChains | None) -> dict[Role, tuple[Role, ...]]:
    """A school's chains as stored (role values by owner), the defaults where it set none."""
    chains = dict(DEFAULT_CHAINS)
    for owner in CHAIN_OWNERS:
        if stored is not None and owner.value in stored:
            chains[owner] = tuple(Role(r) for r in stored[owner.value] if r in set(CHAIN_ROLES))
    return chains


def stored_form(chains: Mapping[Role, tuple[Role, ...]]) -> dict[str, list[str]]:
    """Chains as the school's settings keep them."""
    return {owner.value: [r.value for r in chains[owner]] for owner in CHAIN_OWNERS}


def next_roles(owner: Role, chain: tuple[Role, ...], holder: Role) -> tuple[Role, ...]:
    """The roles that follow the holder's place in the chain (the owner's role first):
    the whole chain when the holder's role is not in it."""
    full = (owner, *chain)
    if holder not in full:
        return full
    return full[full.index(holder) + 1 :]
