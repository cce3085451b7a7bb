"""Sealing the evidence: every original is re-read and its SHA-256 confirmed."""

from __future__ import annotations

from prefect import task

from core.files import evidence_files
from db.audit import record_event
from db.cases import evidence_of, finish_step, step_is_settled
from db.session import transaction
from flows.steps.context import STEP_OPTIONS

SAVE_EVIDENCE = "save_evidence"


class EvidenceAltered(RuntimeError):
    """A stored original no longer matches the fingerprint taken when it arrived."""


@task(name="save_evidence", **STEP_OPTIONS)
async def save_evidence(case_id: int) -> int:
    """Confirm each stored file still matches its upload hash; returns how many."""
    with transaction() as session:
        if step_is_settled(session, case_id, SAVE_EVIDENCE):
            return 0
        items = evidence_of(session, case_id)
        for item in items:
            found = evidence_files().sha256(item.stored_name)
            if found != item.sha256:
                raise EvidenceAltered(f"evidence {item.id} changed: {found} != {item.sha256}")
        record_event(
            session,
            case_id=case_id,
            kind="evidence.sealed",
            data={
                "files": [{"id": i.id, "sha256": i.sha256, "size": i.size} for i in items],
            },
        )
        finish_step(
            session,
            case_id,
            SAVE_EVIDENCE,
            outcome=f"{len(items)} file(s) checked against their SHA-256",
        )
        return len(items)
