"""A case's history reads as sentences: who did what, with no codes, ids or raw data."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from core.enums import AuditKind
from db.models import AuditEvent
from services.history import HISTORY_KINDS, history

AT = datetime(2026, 12, 7, 12, 4, tzinfo=UTC)
TITLES = {
    "record_persistence": "Record whether the pupil persisted",
    "approve_parent_letter": "Approve the letter to all parents",
    "alert_dsl": "Alert the designated safeguarding lead",
}


def event(kind: str, actor: str = "system", seq: int = 1, **data: Any) -> AuditEvent:
    return AuditEvent(seq=seq, kind=kind, actor=actor, at=AT, data=data)


def with_data(kind: str, data: dict[str, Any]) -> AuditEvent:
    return AuditEvent(seq=1, kind=kind, actor="Daniel Price (dsl)", at=AT, data=data)


def said(*events: AuditEvent, in_error: dict[int, str] | None = None) -> list[str]:
    return [line.text for line in history(list(events), TITLES, in_error or {})]


def test_what_people_did_reads_as_sentences_with_their_names() -> None:
    lines = said(
        event(AuditKind.CASE_OPENED, "Amy Fletcher (staff)"),
        event(
            AuditKind.APPROVAL_DECIDED,
            "Helen Okafor (headteacher)",
            step="approve_parent_letter",
            decision="rejected",
            reason="Too soon after the last one.",
            ip="10.0.0.1",
        ),
        event(
            AuditKind.STEP_COMPLETED,
            step="record_persistence",
            outcome="The pupil was reminded of the policy.",
        ),
        event(AuditKind.STEP_SKIPPED, step="alert_dsl", outcome="Not needed: no images."),
    )
    assert lines == [
        "Amy Fletcher reported the incident.",
        "Helen Okafor decided “Approve the letter to all parents”: Reject: do not send it. "
        "Reason given: “Too soon after the last one.”",
        "Done: Record whether the pupil persisted: The pupil was reminded of the policy.",
        "Not needed: Alert the designated safeguarding lead (no images).",
    ]


def test_machinery_stays_in_the_audit_trail() -> None:
    quiet = [
        AuditKind.EMAIL_QUEUED,
        AuditKind.EMAIL_SENT,
        AuditKind.CASE_VIEWED,
        AuditKind.FLOW_STARTED,
        AuditKind.EVIDENCE_VIEWED,
    ]
    assert not set(quiet) & set(HISTORY_KINDS)
    assert said(*(event(kind, outbox_id=7, flow_run_id="abc") for kind in quiet)) == []


def test_no_sentence_shows_an_id_a_code_or_a_python_value() -> None:
    data = {
        "step": "record_persistence",
        "outcome": "done",
        "from": "Kate Doyle",
        "to": "Sam Lee",
        "reason": "On leave",
        "label": "Pupil's year group",
        "before": "Year 6",
        "after": "Year 5",
        "filename": "shot.png",
        "recipients": 50,
        "by_email": 48,
        "by_post": 2,
        "pack": "hr",
        "why": "a child could be at risk",
    }
    for kind in HISTORY_KINDS:
        [text] = said(with_data(kind, data))
        for raw in ("record_persistence", "None", "[", "{", "_", "(dsl)"):
            assert raw not in text, f"{kind}: {text}"


def test_an_event_marked_in_error_says_so() -> None:
    [line] = history(
        [event(AuditKind.NOTE_ADDED, "Daniel Price (dsl)", seq=9)], TITLES, {9: "Wrong case."}
    )
    assert (line.who, line.text, line.in_error) == (
        "Daniel Price",
        "Daniel Price added a note.",
        "Wrong case.",
    )
