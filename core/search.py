"""What a person typed into the search box, made safe to search for, and the snippet shown.

Both databases split text into words the same way (runs of letters and digits, accents and
case ignored), and so does this module: a search is a list of words, each of them the
pieces the index holds. Nothing typed reaches the database as query syntax, so quotes,
operators, brackets and `*` are just characters that are not letters.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from core.rules import looks_like_address, mention_of

MAX_QUERY = 200
MAX_WORDS = 12
MIN_LETTERS = 2
PIECE = re.compile(r"[^\W_]+")


class QueryProblem(ValueError):
    """A search that cannot be run, with what to do instead in plain words."""


@dataclass(frozen=True)
class Terms:
    """A search as the index reads it: each typed word as its pieces (lower case, no accents).

    "Jay_K" is one word of two pieces, so it is looked for as the phrase "jay k"; the last
    piece of the last word also matches longer words ("Smi" finds "Smith").
    """

    words: tuple[tuple[str, ...], ...]

    @property
    def pieces(self) -> tuple[str, ...]:
        return tuple(piece for word in self.words for piece in word)


def fold(text: str) -> str:
    """Lower case without accents, as both indexes compare words."""
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def pieces_of(text: str) -> list[str]:
    """The words an index keeps of `text`."""
    return PIECE.findall(fold(text))


def parse_query(typed: str) -> Terms:
    """The words to look for; QueryProblem says why a search cannot be run."""
    text = typed.strip()
    if len(text) > MAX_QUERY:
        raise QueryProblem(
            f"Your search is {len(text):,} characters long. Search for {MAX_QUERY} characters "
            "or fewer: a name, an account, a case reference or a few words."
        )
    if len(text.split()) == 1 and (text.startswith("@") or looks_like_address(text)):
        # An account or a link to one: look for the account, however it was written.
        mention = mention_of(text, "other")
        text = mention.handle if mention is not None else text
    words = tuple(word for word in (tuple(pieces_of(w)) for w in text.split()) if word)
    if not words:
        raise QueryProblem(
            "Search for letters or numbers: a name, an account, a case reference or a few "
            "words. Symbols on their own cannot be searched for."
        )
    if sum(len(piece) for word in words for piece in word) < MIN_LETTERS:
        raise QueryProblem(f"Type at least {MIN_LETTERS} letters or numbers to search.")
    if len(words) > MAX_WORDS:
        raise QueryProblem(f"Search for {MAX_WORDS} words or fewer.")
    return Terms(words)


# --- The snippet under each result --------------------------------------------------------


@dataclass(frozen=True)
class Snippet:
    """A short extract of one field, split into plain and matched parts (the page marks the
    matched ones; the template escapes every part)."""

    field: str
    parts: tuple[tuple[str, bool], ...]


def _folded_with_positions(text: str) -> tuple[str, list[int]]:
    """`text` folded, with the position in `text` each folded character came from."""
    folded: list[str] = []
    where: list[int] = []
    for i, char in enumerate(text):
        f = fold(char)
        folded.append(f)
        where.extend([i] * len(f))
    return "".join(folded), where


def _matches(text: str, terms: Terms) -> list[tuple[int, int]]:
    """Where the search's pieces start words of `text`, as spans of `text`."""
    folded, where = _folded_with_positions(text)
    spans: list[tuple[int, int]] = []
    for piece in set(terms.pieces):
        pattern = re.compile(rf"(?<![^\W_]){re.escape(piece)}")
        for found in pattern.finditer(folded):
            spans.append((where[found.start()], where[found.end() - 1] + 1))
    return sorted(spans)


def snippet(fields: list[tuple[str, str]], terms: Terms, width: int = 160) -> Snippet | None:
    """Around the first match in the first field that has one (fields in order of interest),
    at most `width` characters; None when no field matches."""
    for name, text in fields:
        spans = _matches(text, terms)
        if spans:
            return Snippet(name, _cut(text, spans, width))
    return None


def _cut(text: str, spans: list[tuple[int, int]], width: int) -> tuple[tuple[str, bool], ...]:
    start = max(0, spans[0][0] - width // 3)
    end = min(len(text), start + width)
    parts: list[tuple[str, bool]] = [("…", False)] if start else []
    at = start
    for begin, finish in spans:
        if begin < at or finish > end:
            continue
        parts += [(text[at:begin], False), (text[begin:finish], True)]
        at = finish
    parts.append((text[at:end], False))
    if end < len(text):
        parts.append(("…", False))
    return tuple((re.sub(r"\s+", " ", part), marked) for part, marked in parts if part)
