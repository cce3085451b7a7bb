"""Opening a reported case: everything it starts with, in one transaction.

The evidence files are written first (outside the transaction: they can be large); then the
case, its steps, its search entries and the accounts it names, its evidence rows and the
safeguarding alert are saved together, or none of them is and the files are removed again.

The headteacher's notice is not queued here: the worker's hand-off queues it moments later
(services.lifecycle.announce), and the flow's first step does if the hand-off could not.
Rendering those emails was half of a report's time in the web app, and under a burst of
reports every report waits for the ones before it.
"""

from __future__ import annotations

from collections.abc import Callable

from core.files import evidence_files
from db.cases import NewCase, acting_head, acting_head_for, open_case
from db.evidence import add_evidence
from db.models import Person
from db.people import case_lead, get_person
from db.search import index_case
from db.session import Session, transaction
from forms.common import UploadedFile
from services.safeguarding import settle_at_intake


def open_reported_case(
    reporter_id: int,
    school_id: int,
    new: NewCase,
    uploads: list[UploadedFile],
    source: str,
    then: Callable[[Session, int], None] | None = None,
) -> int:
    """Save the case at `school_id` and all it starts with; returns the case id.

    `uploads` are files `forms.common.check_evidence` passed (typed by their content);
    `then` is done in the same transaction, with the new case's id (a draft marked sent).
    """
    store = evidence_files()
    stored = [(upload, store.save(upload.data)) for upload in uploads]
    try:
        with transaction() as session:
            reporter = get_person(session, reporter_id)
            case = open_case(
                session,
                school_id=school_id,
                reporter=reporter,
                lead=lead_for(session, school_id, new),
                new=new,
            )
            # Before the notice: it says whether the accounts named were reported before.
            index_case(session, case)
            for upload, kept in stored:
                add_evidence(
                    session,
                    case.id,
                    reporter,
                    kept,
                    filename=upload.filename,
                    content_type=upload.content_type,
                    source=source,
                )
            settle_at_intake(session, case, reporter)
            # Someone must be there to tell: without a head the report is refused now (the
            # web app says what to set up), not left for the hand-off to fail on.
            acting_head(session, case)
            if then is not None:
                then(session, case.id)
            return case.id
    except BaseException:
        store.discard(kept.stored_name for _, kept in stored)
        raise


def lead_for(session: Session, school_id: int, new: NewCase) -> Person:
    """The DSL leads, unless the case is about them; then whoever acts as head does."""
    lead = case_lead(session, school_id)
    if new.subject_id is None or lead.id != new.subject_id:
        return lead
    return acting_head_for(session, school_id, new.subject_id)
