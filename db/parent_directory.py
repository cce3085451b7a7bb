"""Saving a checked parent directory file: known parents updated, new ones added, one event.

Importing again updates the parents already known (matched by email address, or by name and
postal address for parents without one) instead of adding them twice. Parents missing from
the file are left as they are. The rows come from `forms.parent_directory.check_file`.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.enums import AuditKind
from core.parent_directory import ImportResult, ParentRow, home_key
from core.progress import Progress, report
from db.audit import record_event
from db.models import Person, Role
from db.people import find_person


def apply_row(person: Person, row: ParentRow) -> bool:
    """Copy the row onto a known parent; True if anything changed."""
    wanted = {
        "name": row.name,
        "email": row.email,
        "year_groups": row.year_groups,
        "contact_by": row.contact_by,
        "postal_address": row.postal_address,
        "active": True,
    }
    changed = False
    for attr, value in wanted.items():
        if getattr(person, attr) != value:
            setattr(person, attr, value)
            changed = True
    return changed


class Directory:
    """The school's known parents, indexed the two ways an import matches them."""

    def __init__(self, parents: list[Person]) -> None:
        self.by_email = {p.email.lower(): p for p in parents if p.email}
        self.by_home: dict[tuple[str, str], list[Person]] = {}
        # Parents without an email first: they are the ones matched by name and address.
        for parent in sorted(parents, key=lambda p: (bool(p.email), p.id)):
            if parent.postal_address.strip():
                key = home_key(parent.name, parent.postal_address)
                self.by_home.setdefault(key, []).append(parent)
        self.claimed: set[int] = set()

    def _by_email(self, row: ParentRow) -> Person | None:
        found = self.by_email.get(row.email) if row.email else None
        if found is not None:
            self.claimed.add(found.id)
        return found

    def _by_home(self, row: ParentRow) -> Person | None:
        for candidate in self.by_home.get(home_key(row.name, row.postal_address), []):
            # With an email in the row, only a parent who had none can be them.
            if candidate.id in self.claimed or (row.email and candidate.email):
                continue
            self.claimed.add(candidate.id)
            return candidate
        return None

    def match_all(self, rows: list[ParentRow]) -> list[Person | None]:
        """The known parent each row describes, or None; nobody is matched twice.

        Email addresses are matched for every row first, so a name-and-address match can
        never take a parent whose own address is further down the file.
        """
        by_email = [self._by_email(row) for row in rows]
        return [found or self._by_home(row) for row, found in zip(rows, by_email, strict=True)]


def known_parents(session: Session, school_id: int) -> list[Person]:
    """Every parent of the school, active or not: an import may bring one back."""
    return list(
        session.scalars(
            select(Person).where(Person.school_id == school_id, Person.role == Role.PARENT)
        )
    )


def add_parent(session: Session, school_id: int, row: ParentRow) -> None:
    session.add(
        Person(
            school_id=school_id,
            role=Role.PARENT,
            name=row.name,
            email=row.email,
            year_groups=row.year_groups,
            contact_by=row.contact_by,
            postal_address=row.postal_address,
        )
    )


def save_rows(
    session: Session,
    school_id: int,
    rows: list[ParentRow],
    result: ImportResult,
    progress: Progress | None = None,
) -> None:
    """Add or update every row in the caller's transaction, counting each in `result`."""
    matches = Directory(known_parents(session, school_id)).match_all(rows)
    for done, (row, person) in enumerate(zip(rows, matches, strict=True), start=1):
        if person is None:
            add_parent(session, school_id, row)
            result.added += 1
        elif apply_row(person, row):
            result.updated += 1
        else:
            result.unchanged += 1
        report(progress, "saving", done, len(rows))
    session.flush()


def save_import(
    session: Session,
    school_id: int,
    rows: list[ParentRow],
    result: ImportResult,
    *,
    source: str = "",
    actor_id: int | None = None,
    progress: Progress | None = None,
) -> ImportResult:
    """Save rows `check_file` passed, and record the import; fills in `result`'s counts."""
    actor = find_person(session, actor_id)
    save_rows(session, school_id, rows, result, progress)
    record_event(
        session,
        case_id=None,
        kind=AuditKind.PARENTS_IMPORTED,
        actor=actor,
        data={
            "source": source,
            "rows": result.rows,
            "added": result.added,
            "updated": result.updated,
            "unchanged": result.unchanged,
        },
        school_id=school_id,
    )
    return result
