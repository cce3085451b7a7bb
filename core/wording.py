"""The wording of a letter as a headteacher edits it: plain text with three conventions.

An empty line starts a new paragraph; a line that starts with "- " is a bullet point; a
line that starts with "# " is a heading. Every other line break is kept as a line break.
Nothing else means anything: what a person types is escaped before it reaches a letter, so
"<b>" arrives as those three characters and never as markup.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

from markupsafe import Markup, escape

HEADING = re.compile(r"^#+\s+")
BULLET = re.compile(r"^[-*•]\s+")
BLANK_LINES = re.compile(r"\n{3,}")
# The same heading style as the letter templates, so an edited letter looks like the rest.
HEADING_TAG = '<h2 style="font-size:18px;">'
RECORD_KEY = "letter_edit"  # where an approval's stored answers keep an edit


def clean(wording: str) -> str:
    """The wording with line endings made plain and invisible characters taken out.

    Control and formatting characters (zero-width spaces, soft hyphens) show nothing to a
    parent but would hide a name from the letter check, and PostgreSQL refuses NUL.
    """
    text = wording.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    text = "".join(ch for ch in text if ch == "\n" or unicodedata.category(ch) not in ("Cc", "Cf"))
    lines = [" ".join(line.split()) for line in text.split("\n")]
    return BLANK_LINES.sub("\n\n", "\n".join(lines)).strip("\n")


def digest(wording: str) -> str:
    """SHA-256 of the cleaned wording: the same words give the same digest."""
    return hashlib.sha256(clean(wording).encode("utf-8")).hexdigest()


Block = tuple[str, list[str]]  # ("p" | "h" | "ul", its lines)


def blocks(wording: str) -> list[Block]:
    """Paragraphs, headings and bullet lists, in order; none runs across an empty line."""
    found: list[Block] = []
    for paragraph in clean(wording).split("\n\n"):
        current: Block | None = None
        for line in paragraph.split("\n"):
            if HEADING.match(line):
                current = None
                if HEADING.sub("", line):
                    found.append(("h", [HEADING.sub("", line)]))
                continue
            kind, text = ("ul", BULLET.sub("", line)) if BULLET.match(line) else ("p", line)
            if not text:
                continue
            if current is not None and current[0] == kind:
                current[1].append(text)
            else:
                current = (kind, [text])
                found.append(current)
    return found


def to_html(wording: str) -> Markup:
    """The wording as the body of an HTML letter; every word escaped."""
    parts = []
    for kind, lines in blocks(wording):
        if kind == "h":
            parts.append(Markup(HEADING_TAG) + escape(lines[0]) + Markup("</h2>"))
        elif kind == "ul":
            items = Markup("\n").join(Markup("<li>") + escape(i) + Markup("</li>") for i in lines)
            parts.append(Markup("<ul>\n") + items + Markup("\n</ul>"))
        else:
            text = Markup("<br>\n").join(escape(line) for line in lines)
            parts.append(Markup("<p>") + text + Markup("</p>"))
    return Markup("\n").join(parts)


def to_text(wording: str) -> str:
    """The wording as the body of the plain-text letter."""
    parts = []
    for kind, lines in blocks(wording):
        if kind == "ul":
            parts.append("\n".join(f"- {item}" for item in lines))
        else:
            parts.append("\n".join(lines))
    return "\n\n".join(parts)


# The HTML elements a letter template's body is read from, and the block each becomes.
READ_TAGS = {"p": "p", "li": "ul", **{f"h{n}": "h" for n in range(1, 7)}}


class _Reader(HTMLParser):
    """Reads a letter template's HTML body back into the wording people edit."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[Block] = []
        self.kind = ""
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in READ_TAGS:
            self.kind, self.text = READ_TAGS[tag], []
        elif tag == "br" and self.kind:
            self.text.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag not in READ_TAGS or not self.kind:
            return
        lines = [" ".join(line.split()) for line in "".join(self.text).split("\n")]
        text = "\n".join(line for line in lines if line)
        if text:
            if self.kind == "ul" and self.found and self.found[-1][0] == "ul":
                self.found[-1][1].append(text)
            else:
                self.found.append((self.kind, [text]))
        self.kind = ""

    def handle_data(self, data: str) -> None:
        if self.kind:
            self.text.append(data)


def from_html(markup: str) -> str:
    """The wording of an HTML letter body (paragraphs, headings, lists; the rest as text)."""
    reader = _Reader()
    reader.feed(markup)
    reader.close()
    parts = []
    for kind, lines in reader.found:
        if kind == "h":
            parts.append(f"# {lines[0]}")
        elif kind == "ul":
            parts.append("\n".join(f"- {item}" for item in lines))
        else:
            parts.append("\n".join(lines))
    return "\n\n".join(parts)


@dataclass(frozen=True)
class Edit:
    """A letter's wording as written and as the approver changed it."""

    original: str
    edited: str

    @classmethod
    def between(cls, original: str, posted: str | None) -> Edit | None:
        """The edit, or None if nothing was posted or the words are the same once cleaned."""
        if posted is None or clean(posted) == clean(original):
            return None
        return cls(clean(original), clean(posted))

    def digests(self) -> dict[str, str]:
        return {"original_sha256": digest(self.original), "approved_sha256": digest(self.edited)}

    def record(self) -> dict[str, str]:
        """Both versions and their digests, as they are stored with the approval."""
        return {"original": self.original, "approved": self.edited, **self.digests()}

    @classmethod
    def from_record(cls, stored: Any) -> Edit | None:
        """The edit kept in an approval's stored answers, if it has one."""
        if not isinstance(stored, dict) or RECORD_KEY not in stored:
            return None
        record = stored[RECORD_KEY]
        return cls(str(record["original"]), str(record["approved"]))
