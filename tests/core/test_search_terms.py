"""What people type into the search box: searchable words, or a plain reason why not."""

from __future__ import annotations

import pytest

from core.search import QueryProblem, Terms, parse_query, snippet
from db.search import fts5_query, tsquery


def test_words_become_phrases_of_their_pieces() -> None:
    assert parse_query("Zoë O'Brien") == Terms((("zoe",), ("o", "brien")))
    assert parse_query("CW-2026-00012").words == (("cw", "2026", "00012"),)
    # An account or a link to it is searched for as the account.
    assert parse_query("https://www.instagram.com/Jay_K/?igsh=x") == Terms((("jay", "k"),))
    assert parse_query("@jay_k") == parse_query("jay_k")


@pytest.mark.parametrize(
    "typed",
    [
        '"harass',
        "harass*",
        "NEAR(harass bully)",
        "a AND b OR NOT c",
        "col:value",
        "^start",
        "-x +y",
    ],
)
def test_query_syntax_is_only_characters(typed: str) -> None:
    terms = parse_query(typed)
    assert all(piece.isalnum() for piece in terms.pieces)
    assert fts5_query(terms).count('"') == 2 * len(terms.words)
    assert not set(tsquery(terms)) & set("!|'\"")


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("*", "Symbols on their own"),
        ('"" () -- ***', "Symbols on their own"),
        ("😀🎉", "Symbols on their own"),
        ("a", "at least 2 letters"),
        ("x" * 10_000, "10,000 characters long"),
        (" ".join(["word"] * 13), "12 words or fewer"),
    ],
)
def test_searches_that_cannot_run_say_why(typed: str, says: str) -> None:
    with pytest.raises(QueryProblem, match=says):
        parse_query(typed)


def test_the_snippet_marks_the_matched_words_around_the_first_match() -> None:
    text = "A long account of the day. " * 5 + "Then Zoë   O'Brien sent messages to the teacher."
    found = snippet([("Names", "Tom Byrne"), ("Report", text)], parse_query("zoe brien"), 60)
    assert found is not None and found.field == "Report"
    assert [part for part, marked in found.parts if marked] == ["Zoë", "Brien"]
    shown = "".join(part for part, _ in found.parts)
    assert shown.startswith("…") and shown.endswith("…") and "Zoë O'Brien sent" in shown
    assert len(shown) <= 62
    assert snippet([("Report", text)], parse_query("nothing")) is None
