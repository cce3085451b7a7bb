"""A case's history as the people running it read it: one plain sentence per thing that
happened, who did it and when. The audit trail keeps everything (emails queued, pages
opened, ids); this keeps what a DSL or head needs to follow the case, in words."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from core.enums import AuditKind, Decision, StepKey
from db.models import AuditEvent
from forms.tasks import DECISIONS
from services.chronology import who_and_role

Said = Callable[["Told"], str]


@dataclass(frozen=True)
class Told:
    """What a sentence is made from: who did it, the event's data, the step's title."""

    who: str
    data: Mapping[str, Any]
    step: str

    def get(self, key: str) -> str:
        value = self.data.get(key)
        return "" if value is None else str(value)


@dataclass(frozen=True)
class Line:
    """One thing that happened, as a sentence."""

    at: datetime
    who: str  # a name, or "Casework" for the system
    text: str
    in_error: str = ""  # the reason, if a later event marked this one wrong


DECIDED = {
    Decision.APPROVED.value: "approved",
    Decision.REJECTED.value: "turned down",
}


def _reason(t: Told) -> str:
    return f" Reason given: “{t.get('reason')}”" if t.get("reason") else ""


def _outcome(t: Told) -> str:
    return f": {t.get('outcome').rstrip('.')}." if t.get("outcome") else "."


def _why_not(t: Told) -> str:
    """Why a step was not needed, without repeating "Not needed" from its outcome."""
    why = t.get("outcome").removeprefix("Not needed:").strip().rstrip(".")
    return f" ({why})." if why else "."


def _decided(t: Told) -> str:
    """The decision as the option read on the person's page, where the step has options."""
    try:
        spec = DECISIONS.get(StepKey(t.get("step")))
    except ValueError:  # a step no procedure has any longer
        spec = None
    if spec is not None:
        chosen = spec.label(t.get("decision")).rstrip(".")
        return f"{t.who} decided “{t.step}”: {chosen}.{_reason(t)}"
    verb = DECIDED.get(t.get("decision"), "answered")
    return f"{t.who} {verb} “{t.step}”.{_reason(t)}"


def _letter(t: Told) -> str:
    total, email, post = t.get("recipients"), t.get("by_email"), t.get("by_post")
    return f"The letter to parents went out to {total} families ({email} by email, {post} by post)."


SENTENCES: dict[str, Said] = {
    AuditKind.CASE_OPENED: lambda t: f"{t.who} reported the incident.",
    AuditKind.STEP_COMPLETED: lambda t: f"Done: {t.step}{_outcome(t)}",
    AuditKind.STEP_SKIPPED: lambda t: f"Not needed: {t.step}{_why_not(t)}",
    AuditKind.APPROVAL_REQUESTED: lambda t: f"{t.get('from')} was asked to decide “{t.step}”.",
    AuditKind.TASK_REQUESTED: lambda t: f"{t.get('from')} was asked to record “{t.step}”.",
    AuditKind.APPROVAL_DECIDED: _decided,
    AuditKind.TASK_COMPLETED: lambda t: f"{t.who} recorded “{t.step}”.",
    AuditKind.APPROVAL_REISSUED: lambda t: f"{t.who} sent a new link for “{t.step}”.",
    AuditKind.TASK_REISSUED: lambda t: f"{t.who} sent a new link for “{t.step}”.",
    AuditKind.APPROVAL_REMINDED: lambda t: f"A reminder went out about “{t.step}”.",
    AuditKind.TASK_REMINDED: lambda t: f"A reminder went out about “{t.step}”.",
    AuditKind.DEADLINE_PASSED: lambda t: f"The deadline for “{t.step}” passed.",
    AuditKind.NOTE_ADDED: lambda t: f"{t.who} added a note.",
    AuditKind.EVIDENCE_SAVED: lambda t: f"{t.who} added evidence: {t.get('filename')}.",
    AuditKind.EVIDENCE_SEALED: lambda t: "The evidence was sealed: only the DSL may open it.",
    AuditKind.CASE_CORRECTED: lambda t: (
        f"{t.who} corrected {t.get('label').lower() or 'an answer'}"
        f" from “{t.get('before')}” to “{t.get('after')}”.{_reason(t)}"
    ),
    AuditKind.CASE_WITHDRAWN: lambda t: f"{t.who} withdrew the case.{_reason(t)}",
    AuditKind.CASE_REOPENED: lambda t: f"{t.who} reopened the case.{_reason(t)}",
    AuditKind.CASE_CLOSED: lambda t: f"The case was closed{_outcome(t)}",
    AuditKind.CASE_LEAD_CHANGED: lambda t: (
        f"{t.who} made {t.get('to')} the case lead in place of {t.get('from')}.{_reason(t)}"
    ),
    AuditKind.REQUEST_DELEGATED: lambda t: (
        f"{t.who} passed “{t.step}” to {t.get('to')}.{_reason(t)}"
    ),
    AuditKind.REQUEST_REASSIGNED: lambda t: (
        f"“{t.step}” moved to the new case lead, {t.get('to')}."
    ),
    AuditKind.REQUEST_ESCALATED: lambda t: (
        f"“{t.step}” had no answer in time and went to {t.get('to')}."
    ),
    AuditKind.REQUEST_ESCALATION_ENDED: lambda t: (
        f"Nobody further up the school's chain could take “{t.step}”."
    ),
    AuditKind.REQUEST_PASSED_ON: lambda t: (
        f"“{t.step}” passed from {t.get('from')}, who left or changed role, to {t.get('to')}."
    ),
    AuditKind.REQUEST_STRANDED: lambda t: f"Nobody could take over “{t.step}”.",
    AuditKind.REQUEST_WITHDRAWN: lambda t: f"{t.who} withdrew the request “{t.step}”.",
    AuditKind.DSL_ALERTED: lambda t: (
        f"The designated safeguarding lead, {t.get('to')}, was alerted at once."
    ),
    AuditKind.SAFEGUARDING_OPENED: lambda t: (
        f"A safeguarding concern was opened: {t.get('why').rstrip('.')}."
        if t.get("why")
        else "A safeguarding concern was opened."
    ),
    AuditKind.PACK_PRODUCED: lambda t: (
        "The police referral pack was produced."
        if t.get("pack") == "police"
        else "The HR case pack was produced."
    ),
    AuditKind.LETTER_EDITED: lambda t: f"{t.who} changed the wording of the letter to parents.",
    AuditKind.LETTER_REFUSED: lambda t: (
        "A letter that named someone from the case was stopped before it went out."
    ),
    AuditKind.LETTER_SENT: _letter,
    AuditKind.LETTER_PRINT_READY: lambda t: "The letters to post were ready to print.",
    AuditKind.LETTER_PRINTED: lambda t: f"{t.who} recorded that the letters were posted.",
    AuditKind.EMAIL_FAILED: lambda t: "An email could not be delivered (see Email delivery).",
    AuditKind.REPLY_REFUSED: lambda t: "An emailed answer could not be recorded.",
    AuditKind.FLOW_STOPPED: lambda t: "The procedure stopped and needs someone to restart it.",
    AuditKind.FLOW_RESTARTED: lambda t: "The procedure was started again.",
    AuditKind.AUDIT_MARKED_IN_ERROR: lambda t: (
        f"{t.who} marked an earlier entry as recorded in error.{_reason(t)}"
    ),
    AuditKind.STEP_OWNER_DISABLED: lambda t: f"The person asked for “{t.step}” left.",
}
# Kinds the history tells; every other event is in the full audit trail only.
HISTORY_KINDS: tuple[str, ...] = tuple(SENTENCES)


def history(
    events: list[AuditEvent], titles: Mapping[str, str], in_error: Mapping[int, str]
) -> list[Line]:
    """The events, oldest first, as sentences; `titles` names each step key."""
    lines = []
    for event in events:
        said = SENTENCES.get(event.kind)
        if said is None:
            continue
        who, _ = who_and_role(event.actor)
        step = titles.get(str(event.data.get("step", "")), "a step")
        text = said(Told(who, event.data, step))
        lines.append(Line(event.at, who, text, in_error.get(event.seq, "")))
    return lines
