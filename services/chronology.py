"""A case's audit trail as people read it: who (name and role), when (UTC and UK time),
what happened in words, and what changed from what to what."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from core.enums import AuditKind, Role
from core.templating import local_time
from db.models import AuditEvent

# What each kind of event says happened, in words.
HAPPENED: dict[str, str] = {
    AuditKind.CASE_OPENED: "Reported the incident; the case was opened",
    AuditKind.CASE_VIEWED: "Opened the case page",
    AuditKind.CASE_CLOSED: "Closed the case",
    AuditKind.STEP_COMPLETED: "Finished a step of the procedure",
    AuditKind.STEP_SKIPPED: "Skipped a step that did not apply",
    AuditKind.EVIDENCE_SAVED: "Saved evidence with the case",
    AuditKind.EVIDENCE_SEALED: "Sealed evidence (kept, but only the DSL may open it)",
    AuditKind.EVIDENCE_VIEWED: "Opened an evidence file",
    AuditKind.EMAIL_QUEUED: "Queued an email",
    AuditKind.EMAIL_SENT: "Sent an email",
    AuditKind.EMAIL_FAILED: "An email could not be delivered",
    AuditKind.FLOW_STARTED: "Started the procedure",
    AuditKind.FLOW_RESTARTED: "Restarted the procedure after it stopped unexpectedly",
    AuditKind.FLOW_STOPPED: "Stopped the procedure",
    AuditKind.APPROVAL_REQUESTED: "Asked for a decision",
    AuditKind.APPROVAL_REISSUED: "Sent a new link for a decision",
    AuditKind.APPROVAL_REMINDED: "Reminded someone of a decision they owe",
    AuditKind.APPROVAL_DECIDED: "Made a decision",
    AuditKind.TASK_REQUESTED: "Asked someone to record a step's outcome",
    AuditKind.TASK_REISSUED: "Sent a new link for a step",
    AuditKind.TASK_REMINDED: "Reminded someone of a step they owe",
    AuditKind.TASK_COMPLETED: "Recorded a step's outcome",
    AuditKind.DEADLINE_PASSED: "A deadline passed with nothing recorded",
    AuditKind.REPLY_REFUSED: "An emailed answer was not recorded",
    AuditKind.DSL_ALERTED: "Alerted the designated safeguarding lead",
    AuditKind.SAFEGUARDING_OPENED: "Opened a safeguarding concern",
    AuditKind.PACK_PRODUCED: "Produced a referral pack",
    AuditKind.PACK_VIEWED: "Opened a referral pack",
    AuditKind.LETTER_SENT: "Sent the letter to parents",
    AuditKind.LETTER_REFUSED: "Refused to send a letter that named someone",
    AuditKind.LETTER_EDITED: "Changed the letter's wording before approving it",
    AuditKind.LETTER_PRINT_READY: "Made the printed letters ready",
    AuditKind.LETTER_PRINT_DOWNLOADED: "Downloaded the letters to print",
    AuditKind.LETTER_PRINTED: "Recorded that the letters were printed and posted",
    AuditKind.AUDIT_EXPORTED: "Exported the audit trail",
    AuditKind.AUDIT_VIEWED: "Read the audit trail",
    AuditKind.AUDIT_MARKED_IN_ERROR: "Marked an earlier event as recorded in error",
    AuditKind.NOTE_ADDED: "Added a note",
    AuditKind.CASE_CORRECTED: "Corrected what was reported",
    AuditKind.CASE_WITHDRAWN: "Withdrew the case",
    AuditKind.CASE_REOPENED: "Reopened the case",
    AuditKind.REQUEST_WITHDRAWN: "Withdrew a request",
    AuditKind.CASE_LEAD_CHANGED: "Changed the case lead",
    AuditKind.REQUEST_DELEGATED: "Passed a request to someone else",
    AuditKind.REQUEST_REASSIGNED: "Moved a request to the new case lead",
    AuditKind.REQUEST_ESCALATED: "Escalated an unanswered request",
    AuditKind.REQUEST_ESCALATION_ENDED: "Nobody further could take an unanswered request",
    AuditKind.REQUEST_PASSED_ON: "Passed on the request of someone who left or changed role",
    AuditKind.REQUEST_STRANDED: "Nobody could take the request of someone who left",
    AuditKind.STEP_OWNER_DISABLED: "The person asked for a step was disabled",
}
# Data fields never shown: network addresses are kept for the record, not for reading.
HIDDEN = frozenset({"ip"})


@dataclass(frozen=True)
class Change:
    field: str
    before: str
    after: str


@dataclass(frozen=True)
class Entry:
    """One event, readable."""

    seq: int
    at_utc: str
    at_local: str
    who: str  # name, or "Casework" for the system
    role: str  # their role then, in words; empty for the system
    happened: str
    details: list[tuple[str, str]] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    in_error: str = ""  # the reason, if a later event marked this one wrong


def label(key: str) -> str:
    """`pupil_year_group` -> 'Pupil year group'."""
    return key.replace("_", " ").capitalize()


def in_words(value: Any) -> str:
    """A value in words: lists joined, yes/no, nothing as a dash."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(in_words(item) for item in value) or "—"
    if isinstance(value, dict):
        return "; ".join(f"{label(str(k))}: {in_words(v)}" for k, v in value.items()) or "—"
    return str(value)


def who_and_role(actor: str) -> tuple[str, str]:
    """'Daniel Price (dsl)' -> ('Daniel Price', 'designated safeguarding lead')."""
    if actor == "system":
        return "Casework", ""
    name, _, role = actor.rpartition(" (")
    role = role.rstrip(")")
    try:
        return name, Role(role).label
    except ValueError:
        return (name or actor), role


def _changes(data: dict[str, Any]) -> tuple[list[Change], dict[str, Any]]:
    """What changed from what to what, in the three shapes events record it, and the rest."""
    rest = dict(data)
    found: list[Change] = []
    if "before" in rest and "after" in rest:  # a correction of one answer
        name = rest.pop("label", None) or label(str(rest.pop("field", "value")))
        rest.pop("field", None)
        found.append(Change(str(name), in_words(rest.pop("before")), in_words(rest.pop("after"))))
    if "from" in rest and "to" in rest:  # a request or a case passed from one person on
        found.append(Change("Who", in_words(rest.pop("from")), in_words(rest.pop("to"))))
    changes = rest.get("changes")
    if isinstance(changes, dict):  # a person or a school changed: each field [old, new]
        rest.pop("changes")
        for name, pair in changes.items():
            pair = pair if isinstance(pair, list) and len(pair) == 2 else [None, pair]
            found.append(Change(label(str(name)), in_words(pair[0]), in_words(pair[1])))
    return found, rest


def entry(event: AuditEvent, in_error: dict[int, str]) -> Entry:
    who, role = who_and_role(event.actor)
    changes, rest = _changes(dict(event.data))
    details = [(label(k), in_words(v)) for k, v in rest.items() if k not in HIDDEN]
    return Entry(
        seq=event.seq,
        at_utc=utc_text(event.at),
        at_local=local_time(event.at, "%-d %B %Y, %H:%M:%S"),
        who=who,
        role=role,
        happened=HAPPENED.get(event.kind, event.kind.replace(".", " ").capitalize()),
        details=details,
        changes=changes,
        in_error=in_error.get(event.seq, ""),
    )


def utc_text(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M:%S UTC")


def chronology(events: list[AuditEvent], in_error: dict[int, str]) -> list[Entry]:
    return [entry(event, in_error) for event in events]
