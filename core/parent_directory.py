"""What the check of a parent directory file hands to the code that saves it.

These plain types sit below both `forms.parent_directory` (which checks a file) and
`db.parent_directory` (which saves it) so that db saves the very rows the check made without
importing forms, and so that "the same home", which both the duplicate check within a file
and the match against parents already known depend on, is defined once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from core.enums import ContactBy


@dataclass(frozen=True)
class ParentRow:
    """One valid line of the file, ready to save."""

    line: int
    name: str
    email: str | None
    year_groups: str
    contact_by: ContactBy
    postal_address: str


@dataclass
class ImportResult:
    """What an import did, or why it did nothing."""

    rows: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        """One sentence for the page or the terminal."""
        if not self.ok:
            return f"Nothing was imported: {len(self.errors)} problems were found in the file."
        return (
            f"Imported {self.rows:,} parents and carers: {self.added:,} added, "
            f"{self.updated:,} updated, {self.unchanged:,} unchanged."
        )


def _loose(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.casefold()).strip()


def home_key(name: str, address: str) -> tuple[str, str]:
    """Name and address compared without case, spacing or punctuation."""
    return _loose(name), _loose(address)
