"""What a person wrote in a reply: their own lines, without the quoted original, and the
answer on the first of them (APPROVE, or REJECT with a reason).

Pure text handling, no email parsing (that is `mail.inbound`). Mail programs quote in many
ways; the ones recognised here are those of the programs staff use on phones and desktops:
"> " lines, "On ... wrote:" (Gmail, Apple Mail, Thunderbird, also split over two lines),
Outlook's "From: / Sent:" block and its rule of underscores, "Original Message" and
forwarding markers. A reply's answer must be on its first line; anything after it can only
add REJECT's reason, so a quote we fail to spot can never turn into a decision.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Literal

Verb = Literal["approve", "reject", ""]

_WROTE = re.compile(r"(wrote|a écrit|schrieb|escribió|scris)\s*:\s*$", re.IGNORECASE)
_SEPARATOR = re.compile(
    r"^(-{2,}\s*(original message|forwarded message)\s*-{2,}|_{10,}|-{10,}"
    r"|begin forwarded message:)$",
    re.IGNORECASE,
)
_HEADER_BLOCK = re.compile(r"^\*?(from|von|de)\s*:\*?\s", re.IGNORECASE)
_HEADER_NEXT = re.compile(r"^\*?(sent|date|to|subject|gesendet|envoyé)\s*:", re.IGNORECASE)
_SIGNATURE = re.compile(
    r"^(--\s*|sent (from|via|with) .*|(get|download) outlook for .*)$",
    re.IGNORECASE,
)
_WORDS = re.compile(r"[a-z]+")
# A greeting on a line of its own before the answer ("Hi,", "Good morning Casework").
_GREETING = re.compile(
    r"^(hi|hello|hiya|dear|morning|good (morning|afternoon|evening))\b(\s+[\w'-]+){0,3}\s*[,!.]?$",
    re.IGNORECASE,
)
APPROVE_WORDS = frozenset({"approve", "approved", "approving"})
REJECT_WORDS = frozenset({"reject", "rejected", "rejecting"})
# Words that may follow APPROVE on its line without making it conditional.
COURTESIES = frozenset({"thanks", "thank", "you", "many", "cheers", "please", "ok", "okay", "yes"})
# What may separate REJECT from its reason.
_REASON_START = re.compile(r"^[\s:;,.\-–—!*]+")


@dataclass(frozen=True)
class ReplyWords:
    """The answer read from a reply: a verb ("" when there is none) and REJECT's reason."""

    verb: Verb
    reason: str = ""
    first_line: str = ""  # what the person wrote first, to show them when we cannot read it


def starts_quote(lines: list[str], at: int) -> bool:
    """Whether the quoted original (or a forwarded message) begins at line `at`."""
    line = lines[at].strip()
    if line.startswith(">") or _SEPARATOR.match(line) or _WROTE.search(line):
        return True
    ahead = [text.strip() for text in lines[at + 1 : at + 4]]
    if line.lower().startswith("on ") and any(_WROTE.search(text) for text in ahead[:2]):
        return True  # "On <date>, <name> <" ... "address> wrote:", wrapped by the client
    return bool(_HEADER_BLOCK.match(line)) and any(_HEADER_NEXT.match(text) for text in ahead)


def own_lines(text: str) -> list[str]:
    """The lines the person wrote: everything before the quoted original or the signature."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    mine: list[str] = []
    for at, line in enumerate(lines):
        if starts_quote(lines, at) or _SIGNATURE.match(line.strip()):
            break
        mine.append(line.replace("\u00a0", " ").rstrip())
    return mine


def bare(line: str) -> str:
    """A line without the emphasis and quotation marks a phone may add around a word."""
    return line.strip().strip("*_\"'“”‘’`").strip()


def read_reply(text: str) -> ReplyWords:
    """The answer on the first meaningful line of a reply's own words."""
    lines = own_lines(text)
    meaningful = [at for at, line in enumerate(lines) if _WORDS.search(line.lower())]
    if meaningful and _GREETING.match(bare(lines[meaningful[0]])):
        meaningful = meaningful[1:]
    first = meaningful[0] if meaningful else None
    if first is None:
        return ReplyWords("")
    line = bare(lines[first])
    words = _WORDS.findall(line.lower())
    if words[:1] == ["i"]:  # "I approve", "I reject ..."
        words = words[1:]
        line = line[line.lower().index("i") + 1 :].lstrip()
    if not words:
        return ReplyWords("", first_line=line)
    if words[0] in APPROVE_WORDS and set(words[1:]) <= COURTESIES:
        return ReplyWords("approve", first_line=line)
    if words[0] in REJECT_WORDS:
        return ReplyWords("reject", reason_after(line, lines[first + 1 :]), line)
    return ReplyWords("", first_line=line)


def reason_after(line: str, rest: list[str]) -> str:
    """REJECT's reason: the rest of its line, or else the paragraph that follows it."""
    verb = _WORDS.search(line.lower())
    same_line = _REASON_START.sub("", line[verb.end() :] if verb else "").strip()
    if same_line:
        return same_line
    paragraph: list[str] = []
    for text in rest:
        if text.strip():
            paragraph.append(text.strip())
        elif paragraph:
            break
    return " ".join(paragraph)


# --- HTML-only replies -------------------------------------------------------------------

_BLOCKS = frozenset(
    {"p", "div", "br", "li", "tr", "table", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol"}
)
_VOID = frozenset({"br", "hr", "img", "meta", "link", "input", "wbr", "col", "area", "base"})
_HIDDEN = frozenset({"style", "script", "head", "title", "blockquote"})
# Where Gmail, Thunderbird, Yahoo and Outlook put the original they quote.
_QUOTE_MARKS = ("gmail_quote", "moz-cite-prefix", "yahoo_quoted", "protonmail_quote")


class _TextOfHtml(HTMLParser):
    """The visible text of an HTML reply, leaving out quoted blocks; a rule ends the reply."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.open: list[tuple[str, bool]] = []  # (tag, hidden)

    def hidden(self) -> bool:
        return bool(self.open) and self.open[-1][1]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCKS:
            self.parts.append("\n")
        if tag == "hr" and not self.hidden():
            self.parts.append("\n" + "_" * 32 + "\n")  # Outlook's line above the original
        if tag in _VOID:
            return
        marks = " ".join(value or "" for name, value in attrs if name in ("class", "id"))
        quoted = tag in _HIDDEN or any(mark in marks for mark in _QUOTE_MARKS)
        self.open.append((tag, self.hidden() or quoted))

    def handle_endtag(self, tag: str) -> None:
        if tag in _BLOCKS:
            self.parts.append("\n")
        if any(name == tag for name, _ in self.open):
            while self.open and self.open.pop()[0] != tag:
                pass

    def handle_data(self, data: str) -> None:
        if not self.hidden():
            self.parts.append(re.sub(r"\s+", " ", data))


def html_text(html: str) -> str:
    """An HTML-only reply as plain lines, quoted blocks left out."""
    parser = _TextOfHtml()
    parser.feed(html)
    parser.close()
    return "".join(parser.parts)
