"""Accounts named in reports: every way of writing one account gives one key, and different
accounts (or the same name on another platform) give different keys."""

from __future__ import annotations

import pytest

from core.rules import ACCOUNT_FIELDS, Mention, mention_of, mentions_in
from db.search import NAME_ANSWERS, SHOWN_TO_ALL, TEXT_ANSWERS
from forms.registry import INCIDENT_FORMS

JAY_ON_INSTAGRAM = (
    "@Jay_K",
    "jay_k",
    "JAY_K",
    " @jay_k ",
    "(@jay_k).",
    "https://www.instagram.com/jay_k/",
    "http://instagram.com/Jay_K",
    "instagram.com/jay_k?igsh=MWd3c2N5cWx6",
    "https://instagram.com/jay_k/?hl=en#top",
    "m.instagram.com/jay_k",
    "www.instagram.com/jay_k//",
    "https://www.instagram.com/stories/jay_k/3215468791/",
    "instagr.am/jay_k",
    "<https://www.instagram.com/jay_k>",
)


@pytest.mark.parametrize("typed", JAY_ON_INSTAGRAM)
def test_every_spelling_of_an_instagram_account_is_one_account(typed: str) -> None:
    assert mention_of(typed, "instagram") == Mention("instagram", "jay_k")


@pytest.mark.parametrize(
    ("typed", "platform", "account"),
    [
        ("tiktok.com/@jay_k", "other", Mention("tiktok", "jay_k")),
        ("https://www.tiktok.com/@Jay_K/video/7301234567?lang=en", "x", Mention("tiktok", "jay_k")),
        ("x.com/jay_k", "other", Mention("x", "jay_k")),
        ("https://twitter.com/Jay_K/status/1712345", "other", Mention("x", "jay_k")),
        ("mobile.twitter.com/jay_k/", "other", Mention("x", "jay_k")),
        ("@jay_k", "x", Mention("x", "jay_k")),
        ("facebook.com/jay.k", "other", Mention("facebook", "jay.k")),
        ("https://m.facebook.com/jay.k?ref=bookmarks", "other", Mention("facebook", "jay.k")),
        (
            "https://www.facebook.com/profile.php?id=100012345",
            "other",
            Mention("facebook", "100012345"),
        ),
        ("youtube.com/@JayK", "other", Mention("youtube", "jayk")),
        ("snapchat.com/add/jay_k", "other", Mention("snapchat", "jay_k")),
        ("jay_k", "snapchat", Mention("snapchat", "jay_k")),
        ("jay_k", "a forum", Mention("other", "jay_k")),
    ],
)
def test_each_platforms_addresses_name_the_account(
    typed: str, platform: str, account: Mention
) -> None:
    assert mention_of(typed, platform) == account


def test_different_accounts_stay_apart() -> None:
    keys = {
        mention_of(typed, "instagram")
        for typed in (
            "@jay_k",
            "@jay_k2",
            "@jay.k",
            "tiktok.com/@jay_k",  # the same name on another platform is another account
            "x.com/jay_k",
            "https://www.instagram.com/p/CxYz123/",  # a post, not the account
            "https://www.instagram.com/p/CxYz124/",
            "forum.example.com/u/jay_k",
        )
    }
    assert len(keys) == 8 and None not in keys
    assert mention_of("https://www.instagram.com/p/CxYz123/?igsh=1", "x") == Mention(
        "web", "instagram.com/p/CxYz123"
    )


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "   ",
        "@",
        "bob@school.example",
        "instagram.com",
        "https://x.com/",
        "two words",
        "http://[::1",
    ],
)
def test_things_that_name_no_account(typed: str) -> None:
    assert mention_of(typed, "instagram") is None


def test_accounts_are_found_in_free_text_but_ordinary_words_are_not() -> None:
    text = (
        "The account @Jay_K messaged her, then https://x.com/jaykay_99/status/1 reposted it.\n"
        "sam.smith\n"
        "tiktok.com/@jay_k, instagram.com/jay_k?igsh=abc\n"
        "Her friend said it was someone from year nine."
    )
    assert mentions_in(text, "instagram") == [
        Mention("instagram", "jay_k"),
        Mention("x", "jaykay_99"),
        Mention("instagram", "sam.smith"),
        Mention("tiktok", "jay_k"),
    ]


def test_the_fields_named_for_search_and_linking_are_the_forms_own() -> None:
    """If a form renames or adds an account or name field, these lists must follow."""
    fields = {name for form in INCIDENT_FORMS.values() for name in form.model_fields}
    listed = {*ACCOUNT_FIELDS, *NAME_ANSWERS, *TEXT_ANSWERS, *SHOWN_TO_ALL}
    assert listed <= fields, listed - fields
    accounts = {f for f in fields if f.endswith("_account") or f == "links"}
    assert accounts == set(ACCOUNT_FIELDS)
    names = {f for f in fields if f.endswith("_name")}
    assert names == set(NAME_ANSWERS)
