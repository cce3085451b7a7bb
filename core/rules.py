"""Facts and rules that forms, procedures and the parent directory share.

Kept here, below both the forms and the flows, so a rule the form checks and the procedure
acts on is written once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, get_args
from urllib.parse import parse_qs, unquote, urlsplit

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


# --- Accounts and addresses named in a report --------------------------------------------
# Cases that name the same account are linked, however it was typed: "@Jay_K", "jay_k",
# "https://www.instagram.com/jay_k/?igsh=..." and "m.instagram.com/jay_k" are one account.

# The answers that hold account names or links (procedures A, D and C).
ACCOUNT_FIELDS: tuple[str, ...] = ("pupil_account", "subject_account", "links")
# Each platform's addresses, once "www.", "m." and the like are taken off the front.
PLATFORM_HOSTS: dict[str, str] = {
    "instagram.com": "instagram",
    "instagr.am": "instagram",
    "tiktok.com": "tiktok",
    "x.com": "x",
    "twitter.com": "x",
    "facebook.com": "facebook",
    "fb.com": "facebook",
    "youtube.com": "youtube",
    "snapchat.com": "snapchat",
}
HOST_PREFIXES = ("www.", "m.", "mobile.", "web.")
# The first part of a path that is one of the platform's own pages rather than an account.
NOT_ACCOUNTS: dict[str, frozenset[str]] = {
    "instagram": frozenset({"p", "reel", "reels", "tv", "explore", "accounts", "direct"}),
    "x": frozenset(
        {"i", "home", "search", "intent", "share", "hashtag", "explore", "settings", "messages"}
    ),
    "facebook": frozenset(
        {"groups", "pages", "events", "watch", "photo", "photo.php", "story.php", "reel"}
        | {"permalink.php", "share", "sharer", "sharer.php", "marketplace", "hashtag"}
    ),
}
ACCOUNT_NAME = re.compile(r"[\w.\-]{1,100}")
LOOKS_LIKE_HOST = re.compile(r"[a-z0-9-]+(\.[a-z0-9-]+)+(:\d+)?([/?#]|$)", re.IGNORECASE)
WRAPPING = "\"'()<>[]{}.,;:!?"
MAX_ADDRESS = 300


@dataclass(frozen=True)
class Mention:
    """One account (or, on another site, one address) a report names, normalised."""

    platform: str  # a key of PLATFORMS, or "web" for an address on any other site
    handle: str  # lower case without "@"; for "web", the host and path

    @property
    def shown(self) -> str:
        """How the account is written on a page: "@jay_k", or the address."""
        return self.handle if self.platform == "web" else f"@{self.handle}"


def account_name(raw: str) -> str | None:
    """A typed account name made comparable: case ignored, "@" and closing dots dropped."""
    name = raw.strip().removeprefix("@").rstrip(".").lower()
    return name if ACCOUNT_NAME.fullmatch(name) else None


def looks_like_address(token: str) -> bool:
    """Whether a typed word is a web address rather than an account name."""
    if "://" in token or token.lower().startswith("www."):
        return True
    host = re.split(r"[/?#]", token, maxsplit=1)[0].lower()
    return bare_host(host) in PLATFORM_HOSTS or (
        LOOKS_LIKE_HOST.match(token) is not None and "/" in token
    )


def bare_host(host: str) -> str:
    for prefix in HOST_PREFIXES:
        if host.startswith(prefix):
            return host.removeprefix(prefix)
    return host


def account_in_path(platform: str, parts: list[str], query: str) -> str | None:
    """The account a platform's address points at, if it points at one."""
    first = parts[0] if parts else ""
    second = parts[1] if len(parts) > 1 else ""
    if platform in ("tiktok", "youtube", "snapchat") and first.startswith("@"):
        return account_name(first)
    if platform == "instagram" and first == "stories":
        return account_name(second)
    if platform == "facebook" and first == "profile.php":
        return account_name(parse_qs(query).get("id", [""])[0])
    if platform == "facebook" and first == "people" and len(parts) > 2:
        return account_name(parts[2])
    if (platform, first) in (("youtube", "c"), ("youtube", "user"), ("snapchat", "add")):
        return account_name(second)
    if platform in NOT_ACCOUNTS and first and first not in NOT_ACCOUNTS[platform]:
        return account_name(first)
    return None


def address_mention(token: str) -> Mention | None:
    """A web address: the platform's account when it names one, else the address itself
    (host and path; no scheme, "www.", query string, fragment or closing slash)."""
    try:
        parts = urlsplit(token if "://" in token else f"https://{token}")
        host = bare_host((parts.hostname or "").lower())
    except ValueError:
        return None
    path = [unquote(p) for p in parts.path.split("/") if p]
    platform = PLATFORM_HOSTS.get(host)
    if platform is not None:
        name = account_in_path(platform, path, parts.query)
        if name is not None:
            return Mention(platform, name)
        if not path:
            return None  # "instagram.com" on its own names nobody
    address = "/".join([host, *path])
    if not host or len(address) > MAX_ADDRESS or any(c.isspace() for c in address):
        return None
    return Mention("web", address)


def mention_of(value: str, platform: str) -> Mention | None:
    """One account name or address as typed; a bare name is an account on `platform`."""
    token = value.strip().strip(WRAPPING)
    if not token:
        return None
    if looks_like_address(token):
        return address_mention(token)
    if "@" in token[1:]:
        return None  # an email address, not an account
    name = account_name(token)
    if name is None:
        return None
    return Mention(platform if platform in PLATFORMS else "other", name)


def mentions_in(text: str, platform: str) -> list[Mention]:
    """Every account and address in an answer, once each, in the order given.

    A line (or a part between commas) that is one word is an account name or address; in
    longer text only "@names" and addresses count, so ordinary words are never accounts.
    """
    found: dict[Mention, None] = {}
    for part in re.split(r"[\n,;]+", text):
        words = part.split()
        for word in words:
            if len(words) == 1 or word.startswith("@") or looks_like_address(word):
                mention = mention_of(word, platform)
                if mention is not None:
                    found.setdefault(mention)
    return list(found)
