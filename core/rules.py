"""Facts and rules that forms, procedures and the parent directory share.

Kept here, below both the forms and the flows, so a rule the form checks and the procedure
acts on is written once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Literal, get_args

from core.enums import Phase

PlatformKey = Literal[
    "facebook", "instagram", "x", "tiktok", "snapchat", "youtube", "whatsapp", "other"
]
# The platforms a report can name, with the label people see.
PLATFORMS: dict[str, str] = {
    "facebook": "Facebook",
    "instagram": "Instagram",
    "x": "X (Twitter)",
    "tiktok": "TikTok",
    "snapchat": "Snapchat",
    "youtube": "YouTube",
    "whatsapp": "WhatsApp",
    "other": "Another platform",
}
assert tuple(PLATFORMS) == get_args(PlatformKey), "PlatformKey and PLATFORMS must list the same"

# School years in school order, as the forms offer them and the parent import reads them.
YEAR_GROUPS: tuple[str, ...] = ("Nursery", "Reception", *(f"Year {n}" for n in range(1, 14)))
# The years a school of each phase teaches, for the lists its forms offer.
PHASE_YEARS: dict[Phase, tuple[str, ...]] = {
    Phase.PRIMARY: YEAR_GROUPS[:8],  # Nursery to Year 6
    Phase.SECONDARY: YEAR_GROUPS[8:],  # Year 7 to Year 13
    Phase.ALL_THROUGH: YEAR_GROUPS,
    Phase.SPECIAL: YEAR_GROUPS,
}

# An address a mail server will take: dot-atoms at a domain with a top-level part. Matched
# against the whole value (`fullmatch`: a `$` would let a final line break through).
EMAIL_ADDRESS = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)
MAX_EMAIL = 320


def looks_like_email(value: str) -> bool:
    """True for one address shaped like name@school.example.

    No spaces or line breaks, no display name or second address, and a real domain.
    """
    return len(value) <= MAX_EMAIL and EMAIL_ADDRESS.fullmatch(value) is not None


# Procedure C asks the headteacher for a police decision when the content is any of these.
POLICE_KINDS = frozenset({"racist", "sexist", "sexual", "hate_crime"})


def needs_police_decision(content_kinds: Iterable[str]) -> bool:
    """Racist, sexist, sexual or hate-crime content: the head decides about the police."""
    return not POLICE_KINDS.isdisjoint(content_kinds)


def meeting_successful(held: str | None, agreed: str | None) -> bool:
    """Procedure C: a meeting succeeded if it took place and they agreed to remove it."""
    return held == "yes" and agreed == "yes"


# Answers that reach outside the school (a letter to every parent, a referral to the police).
# The emailed link alone is not enough for these: a mail scanner that fills in forms holds the
# link too. They also need a code Casework emails separately (services/confirmation.py).
CONFIRMED_ANSWERS: frozenset[tuple[str, str]] = frozenset(
    {
        ("approve_parent_letter", "approved"),
        ("police_decision", "refer"),
        ("next_action", "police"),
    }
)


def needs_confirmation(step_key: str, decision: str) -> bool:
    """Whether this answer at this step needs a confirmation code as well as the link."""
    return (str(step_key), str(decision)) in CONFIRMED_ANSWERS


def confirmed_options(step_key: str) -> frozenset[str]:
    """The options of a step that need a confirmation code (empty for most steps)."""
    return frozenset(d for s, d in CONFIRMED_ANSWERS if s == str(step_key))
