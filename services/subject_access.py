"""Subject access: everything a school's cases hold about one person, for the DSL to check,
redact and send.

A case that is about the person, or names or mentions them, is exported whole; a case they
only worked on (reported, led, were asked about, wrote a note on) is exported as what they
contributed. Every entry lists the other people it names ("third parties") so the DSL can
redact them before release: the flags are an aid found by matching names and addresses,
not a promise that nothing else identifies someone. Producing an export is an audit event.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from core.enums import AuditKind
from core.procedures import procedure_for
from db.audit import record_event
from db.models import Case, Person, utcnow
from db.session import Session
from db.subject_access import (
    NAMED_AS,
    CaseRecord,
    activity_of,
    case_record,
    cases_by_id,
    cases_naming,
    cases_of_person,
    emails_to,
    name_pattern,
)

EMAIL = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+")
# Being any of these makes the whole case about the person.
WHOLE_CASE = {
    "the member of staff it is about",
    "mentioned in the report",
    "mentioned in a note",
    "mentioned in a step's outcome",
    *NAMED_AS.values(),
}
SKIPPED_ANSWERS = {"platform_key", "contact_continued", "child_at_risk"}


@dataclass(frozen=True)
class Entry:
    """One thing held, and the other people it names (to redact before release)."""

    what: str
    text: str
    third_parties: list[str] = field(default_factory=list)


@dataclass
class CaseExport:
    reference: str
    kind: str
    status: str
    opened: str
    closed: str
    how: list[str]
    disposed: str = ""
    entries: list[Entry] = field(default_factory=list)


@dataclass
class Export:
    """The whole export, as the page shows it and the JSON download holds it."""

    name: str
    person_id: int | None
    role: str
    email: str
    school_id: int
    produced_at: str
    produced_by: str
    cases: list[CaseExport]
    activity: list[dict[str, Any]] = field(default_factory=list)
    emails: list[dict[str, Any]] = field(default_factory=list)

    @property
    def flagged(self) -> int:
        return sum(1 for c in self.cases for e in c.entries if e.third_parties)

    def as_json(self) -> dict[str, Any]:
        return {
            "notice": (
                "Entries with third_parties name other people: redact them before this is "
                "released. The flags are found by matching names and email addresses; read "
                "every entry too."
            ),
            **asdict(self),
        }


class Flagger:
    """Finds the other people an entry of one case names."""

    def __init__(self, record: CaseRecord, subject: str, email: str) -> None:
        own = subject.strip().lower()
        names = set(record.names.values())
        names |= {str(record.case.details.get(k) or "") for k in NAMED_AS}
        self.patterns = [
            (n, p)
            for n in sorted(n for n in names if n and n.strip().lower() != own)
            if (p := name_pattern(n)) is not None
        ]
        self.email = email.lower()

    def __call__(self, what: str, text: str) -> Entry:
        """The entry, flagged with the names in its words and in its label ("Note by X")."""
        both = f"{what}\n{text}"
        found = [n for n, p in self.patterns if p.search(both)]
        found += [a for a in EMAIL.findall(both) if a.lower() != self.email]
        return Entry(what, text, sorted(set(found)))


def _when(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value else ""


def _answer_text(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return "" if value is None or isinstance(value, bool) else str(value)


def whole_case(record: CaseRecord, flag: Flagger) -> list[Entry]:
    """Everything the case says, each with its third parties."""
    case, names = record.case, record.names
    entries = [
        flag("Reported by", names.get(case.reporter_id, "")),
        flag("Case lead", names.get(case.lead_id, "")),
    ]
    if case.subject_id:
        entries.append(flag("The member of staff it is about", names.get(case.subject_id, "")))
    entries.append(flag("What happened", case.description))
    for key, value in (case.details or {}).items():
        text = _answer_text(value)
        if text and key not in SKIPPED_ANSWERS:
            entries.append(flag(f"Report: {key.replace('_', ' ')}", text))
    if case.outcome:
        entries.append(flag("Outcome", case.outcome))
    entries += [flag(f"Step: {s.title}", s.outcome) for s in record.steps if s.outcome]
    entries += [
        flag(f"Note by {names.get(n.author_id, '?')}, {_when(n.created_at)}", n.text)
        for n in record.notes
    ]
    entries += [_answer(record, a.id, flag) for a in record.approvals if a.reason or a.response]
    entries += [
        flag("Evidence file", f"{e.original_filename} ({e.size:,} bytes, SHA-256 {e.sha256})")
        for e in record.evidence
    ]
    return entries


def _answer(record: CaseRecord, approval_id: int, flag: Flagger) -> Entry:
    approval = next(a for a in record.approvals if a.id == approval_id)
    parts = [approval.reason, *(_answer_text(v) for v in (approval.response or {}).values())]
    who = record.names.get(approval.approver_id, "?")
    text = "\n".join(p for p in parts if p)
    return flag(f"Answer to '{approval.step_key.replace('_', ' ')}' by {who}", text)


def contributed(record: CaseRecord, person: Person, flag: Flagger) -> list[Entry]:
    """What the person put into a case they worked on but that is not about them."""
    case = record.case
    entries: list[Entry] = []
    if case.reporter_id == person.id:
        entries.append(flag("Your report: what happened", case.description))
    if case.lead_id == person.id:
        entries.append(flag("You led the case", person.name))
    entries += [
        flag(f"Your note, {_when(n.created_at)}", n.text)
        for n in record.notes
        if n.author_id == person.id
    ]
    entries += [
        flag(f"Step you recorded: {s.title}", s.outcome)
        for s in record.steps
        if s.owner_id == person.id and s.outcome
    ]
    entries += [
        _answer(record, a.id, flag)
        for a in record.approvals
        if a.approver_id == person.id and (a.reason or a.response)
    ]
    entries += [
        flag("Evidence you added", f"{e.original_filename} ({e.size:,} bytes)")
        for e in record.evidence
        if e.uploaded_by_id == person.id
    ]
    return entries


def export_case(
    record: CaseRecord, how: set[str], person: Person | None, name: str, email: str
) -> CaseExport:
    case = record.case
    out = CaseExport(
        reference=case.reference,
        kind=procedure_for(case.incident_type).label,
        status=case.status.value,
        opened=_when(case.opened_at),
        closed=_when(case.closed_at),
        how=sorted(how),
        disposed=_when(case.disposed_at),
    )
    if case.disposed_at is not None:
        return out  # only the tombstone is left: nothing personal to give
    flag = Flagger(record, name, email)
    if how & WHOLE_CASE or person is None:
        out.entries = whole_case(record, flag)
    else:
        out.entries = contributed(record, person, flag)
    return out


def produce(
    session: Session,
    producer: Person,
    school_id: int,
    person: Person | None,
    name: str,
    fmt: str,
) -> Export:
    """The export for one person (known to Casework, or only by name), logged as produced."""
    name = person.name if person is not None else " ".join(name.split())
    email = (person.email or "") if person is not None else ""
    found = cases_naming(session, school_id, name, email)
    if person is not None:
        for case_id, how in cases_of_person(session, school_id, person).items():
            found.setdefault(case_id, set()).update(how)
    cases: list[Case] = cases_by_id(session, found)
    export = Export(
        name=name,
        person_id=person.id if person else None,
        role=person.role.label if person else "",
        email=email,
        school_id=school_id,
        produced_at=_when(utcnow()),
        produced_by=producer.name,
        cases=[
            export_case(case_record(session, c), found[c.id], person, name, email) for c in cases
        ],
    )
    if person is not None:
        references = {c.id: c.reference for c in cases}
        export.activity = [
            {"at": _when(e.at), "what": e.kind, "case": references.get(e.case_id or 0, "")}
            for e in activity_of(session, person.id)
        ]
        export.emails = [
            {"queued": _when(m.created_at), "subject": m.subject, "status": m.status.value}
            for m in emails_to(session, person)
        ]
    record_event(
        session,
        case_id=None,
        kind=AuditKind.SUBJECT_ACCESS_EXPORTED,
        actor=producer,
        data={
            "school_id": school_id,
            "person_id": export.person_id,
            # Who was asked about stays out of the trail, which outlives every case: the
            # DSL's own request file says who; the hash lets the two be matched.
            "name_sha256": hashlib.sha256(name.lower().encode()).hexdigest(),
            "cases": [c.reference for c in cases],
            "format": fmt,
        },
    )
    return export
