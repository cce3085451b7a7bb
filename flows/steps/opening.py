"""The first steps of every procedure: tell the head, children first, seal, advise."""

from __future__ import annotations

from prefect import task

from core.enums import AuditKind, StepKey
from core.files import evidence_files
from db.audit import record_event
from db.cases import finish_step
from db.evidence import evidence_of
from db.models import Case
from db.people import get_person
from db.session import Session
from flows.steps.base import STEP_OPTIONS, once, step_pending
from flows.steps.progress import progress_at_start
from flows.steps.waiting import wait_for_person
from services import advice, lifecycle


class EvidenceAltered(RuntimeError):
    """A stored original no longer matches the fingerprint taken when it arrived."""


@task(name=StepKey.NOTIFY_HEADTEACHER, **STEP_OPTIONS)
async def notify_headteacher(case_id: int) -> None:
    """Intake queues this notice itself; the step only repeats it if that did not happen."""

    def work(session: Session, case: Case) -> None:
        lifecycle.notify_headteacher(session, case, get_person(session, case.reporter_id))

    once(case_id, StepKey.NOTIFY_HEADTEACHER, work)


def seal(session: Session, case: Case) -> int:
    """Confirm each stored file still matches its upload hash; returns how many."""
    items = evidence_of(session, case.id)
    store = evidence_files()
    for item in items:
        found = store.sha256(item.stored_name)
        if found != item.sha256:
            raise EvidenceAltered(f"evidence {item.id} changed: {found} != {item.sha256}")
    record_event(
        session,
        case_id=case.id,
        kind=AuditKind.EVIDENCE_SEALED,
        data={"files": [{"id": i.id, "sha256": i.sha256, "size": i.size} for i in items]},
    )
    finish_step(
        session,
        case.id,
        StepKey.SAVE_EVIDENCE,
        outcome=f"{len(items)} file(s) checked against their SHA-256",
    )
    return len(items)


@task(name=StepKey.SAVE_EVIDENCE, **STEP_OPTIONS)
async def save_evidence(case_id: int) -> int:
    """Seal the evidence: every original re-read and its SHA-256 confirmed."""
    return once(case_id, StepKey.SAVE_EVIDENCE, seal) or 0


@task(name=StepKey.ADVISE_STAFF, **STEP_OPTIONS)
async def advise_staff(case_id: int) -> None:
    once(case_id, StepKey.ADVISE_STAFF, advice.advise_staff)


async def opening_steps(case_id: int) -> None:
    """Tell the head, refer sexual images of a child first, seal the evidence, advise.

    Steps already settled when this run started are passed over without a task run
    (flows/steps/progress.py): on every hop after the first, that is all of them.
    """
    settled = (await progress_at_start(case_id)).settled
    if StepKey.NOTIFY_HEADTEACHER not in settled:
        await notify_headteacher(case_id)
    referral = StepKey.POLICE_CEOP_REFERRAL
    if referral not in settled and await step_pending(case_id, referral):
        await wait_for_person(case_id, referral)
    if StepKey.SAVE_EVIDENCE not in settled:
        await save_evidence(case_id)
    if StepKey.ADVISE_STAFF not in settled:
        await advise_staff(case_id)
