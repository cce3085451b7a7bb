"""Reply addresses: where a reply to a request's email goes, one secret address per link.

`reply-<request id>-<tag>@<reply domain>`: the tag is a keyed hash of the stored hash of
the link's token (`core.tokens.reply_tag`), so it is as hard to guess as the link, says
nothing about the link itself, and changes whenever the link is renewed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.enums import ApprovalKind
from core.settings import get_settings
from core.tokens import reply_tag, same
from db.models import Approval
from forms.tasks import reply_options

_LOCAL = re.compile(r"reply-([1-9][0-9]{0,9})-([0-9a-f]{32})")


@dataclass(frozen=True)
class ReplyTarget:
    """What a reply address names: a request, and the tag it carried."""

    approval_id: int
    tag: str

    def current_for(self, approval: Approval) -> bool:
        """Whether the tag is the one for the request's live link (not an older one)."""
        return same(self.tag, reply_tag(approval.token_hash))


def answerable_by_reply(approval: Approval) -> bool:
    """Whether this request's email invites a reply: replies on, and a simple decision."""
    return (
        bool(get_settings().reply_domain)
        and approval.kind == ApprovalKind.APPROVAL
        and reply_options(approval.step_key) is not None
    )


def address_for(approval: Approval) -> str:
    """The request's current reply address, or "" when its email should not invite one."""
    if not answerable_by_reply(approval):
        return ""
    return f"reply-{approval.id}-{reply_tag(approval.token_hash)}@{get_settings().reply_domain}"


def target_of(address: str) -> ReplyTarget | None:
    """The request a reply address names, or None if it is not one of ours."""
    local, _, domain = address.strip().strip("<>").lower().rpartition("@")
    domain_ours = bool(domain) and domain == get_settings().reply_domain
    found = _LOCAL.fullmatch(local) if domain_ours else None
    if found is None:
        return None
    return ReplyTarget(int(found.group(1)), found.group(2))
