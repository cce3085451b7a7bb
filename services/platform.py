"""Reporting to the platform: where to report, which rules apply, and the words to use."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from db.models import Case


@dataclass(frozen=True)
class PlatformGuide:
    name: str
    where: str
    rules: str


GUIDES: dict[str, PlatformGuide] = {
    "facebook": PlatformGuide(
        "Facebook",
        "Open the post, comment or profile, choose the three dots (…) and then 'Report'. "
        "Facebook's Help Centre also has a form for reporting abuse if you have no account.",
        "Community Standards: bullying and harassment, hateful conduct, violence and incitement, "
        "and child sexual exploitation.",
    ),
    "instagram": PlatformGuide(
        "Instagram",
        "Tap the three dots (…) above the post, on the comment or on the profile, then 'Report'. "
        "Reports can also be made through Instagram's Help Centre.",
        "Community Guidelines: bullying and harassment, hate speech, threats of violence, and "
        "the safety of young people.",
    ),
    "x": PlatformGuide(
        "X (Twitter)",
        "Open the post or profile, choose the three dots (…) and 'Report post' or 'Report'. "
        "X's Help Centre has forms for reports from people without an account.",
        "X Rules: abuse and harassment, hateful conduct, violent speech, and child safety.",
    ),
    "tiktok": PlatformGuide(
        "TikTok",
        "Press and hold the video or comment (or use 'Share' then 'Report'); for an account, "
        "open the profile and use the report option.",
        "Community Guidelines: harassment and bullying, hate speech, violent threats, and "
        "youth safety.",
    ),
    "snapchat": PlatformGuide(
        "Snapchat",
        "Press and hold the Snap or the Story, or open the account's profile, and choose "
        "'Report'. Snapchat's support site accepts reports too.",
        "Community Guidelines: harassment and bullying, hate speech, threats, and the sexual "
        "exploitation of young people.",
    ),
    "youtube": PlatformGuide(
        "YouTube",
        "Under the video choose the three dots (…) and 'Report'; for a comment, the three dots "
        "beside it; for a channel, 'Report user' on its About page.",
        "Community Guidelines: harassment and cyberbullying, hate speech, violent or graphic "
        "content, and child safety.",
    ),
    "whatsapp": PlatformGuide(
        "WhatsApp",
        "Open the chat, tap the contact or group name, then 'Report'. WhatsApp receives the "
        "last few messages of the chat with the report.",
        "Terms of Service: harassing, threatening, intimidating or hateful behaviour.",
    ),
    "other": PlatformGuide(
        "the platform",
        "Look for a 'Report' option on the post, message or profile, or the platform's "
        "help or safety centre.",
        "the platform's rules on harassment, hate and threats (usually called community "
        "guidelines or terms of service).",
    ),
}

TARGET_WORDS = {
    "me": "a member of our staff",
    "staff": "a member of our staff",
    "pupil": "a pupil at our school",
    "school": "our school",
}


def platform_report(case: Case, school_name: str) -> dict[str, Any]:
    """What the case lead needs to report the material: where, which rules, and the words."""
    details = case.details or {}
    guide = GUIDES.get(str(details.get("platform_key", "other")), GUIDES["other"])
    kinds = ", ".join(str(k).replace("_", " ") for k in details.get("content_kinds", []))
    target = TARGET_WORDS.get(str(details.get("target", "school")), "our school")
    text = (
        f"I am reporting on behalf of {school_name}. The material at the links below targets "
        f"{target}. It is {kinds or 'abusive'} content and we believe it breaks "
        f"{guide.rules.split(':')[0]}. It was first seen on "
        f"{case.occurred_at:%d %B %Y}. Please remove it and tell us what action you have "
        f"taken.\n\nLinks and accounts:\n{details.get('links', '')}"
    )
    return {"guide": guide, "text": text}
