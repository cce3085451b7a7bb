"""A report between its form and its sending: kept as a draft while its sender checks it.

The draft's files wait in a quarantine store of their own, never among the evidence: they
become evidence only when the report is sent (services/intake copies them in, byte for byte
and checked against the SHA-256 taken when they arrived), and are then erased from
quarantine. A draft lives 24 hours; `purge_expired` deletes older ones and their files (the
worker calls it, and every route that meets an old draft purges that one at once).
"""

from __future__ import annotations

import hashlib
import logging
import time
from datetime import datetime, timedelta
from typing import Any

from core.enums import IncidentType
from core.files import FileStore
from core.settings import get_settings
from db.cases import NewCase
from db.drafts import (
    Draft,
    DraftFile,
    add_draft,
    case_of_draft,
    claim_draft,
    mark_sent,
    release_draft,
    remove_draft,
    remove_drafts,
    replace_answers,
)
from db.models import utcnow
from db.session import reading, transaction
from forms.common import UploadedFile
from services.intake import open_reported_case

log = logging.getLogger("casework.drafts")

LIFETIME = timedelta(hours=24)
# A send takes seconds; one claimed this long ago died with its process and may be retried.
CLAIM_TIMEOUT = timedelta(minutes=10)
# Files older than this belong to no draft (each draft's files are newer than the draft):
# they were left by a request that died between writing them and saving its draft.
ORPHAN_AGE = LIFETIME + timedelta(hours=1)


class AlreadySending(Exception):
    """The draft is sent, or another request is sending it now."""


class DraftFilesLost(Exception):
    """A file of the draft is missing from quarantine or is not what was attached."""


def quarantine_files() -> FileStore:
    """Files attached to drafts, until the report is sent or the draft expires."""
    return FileStore(get_settings().files_path / "quarantine")


def expired(draft: Draft, now: datetime | None = None) -> bool:
    return draft.created_at <= (now or utcnow()) - LIFETIME


def being_sent(draft: Draft, now: datetime | None = None) -> bool:
    """Another request is sending the draft now (a claim older than CLAIM_TIMEOUT died)."""
    if draft.case_id is not None or draft.claimed_at is None:
        return False
    return draft.claimed_at > (now or utcnow()) - CLAIM_TIMEOUT


def save_draft(
    reporter: tuple[int, int],
    kind: IncidentType,
    answers: dict[str, Any],
    uploads: list[UploadedFile],
    source: str,
    earlier: tuple[str, Draft] | None = None,
    keep_files: bool = False,
) -> str:
    """Keep the answers and the new files as a draft of `reporter` (person id, school id);
    returns its token. `earlier` is the draft being changed, with its token: it keeps the
    token, and its files too when `keep_files` (nothing new was attached), else they are
    erased. AlreadySending if it was sent (or is being sent) meanwhile."""
    store = quarantine_files()
    new = [(u, store.save(u.data)) for u in uploads]
    files = [DraftFile(s.stored_name, s.sha256, s.size, u.filename, u.content_type) for u, s in new]
    try:
        if earlier is None:
            return _add(reporter, kind, answers, files, source)
        token, draft = earlier
        _replace(draft, answers, list(draft.files) if keep_files else files, source)
    except BaseException:
        store.discard(s.stored_name for _, s in new)
        raise
    if not keep_files:
        store.erase(f.stored_name for f in draft.files)
    return token


def _add(
    reporter: tuple[int, int],
    kind: IncidentType,
    answers: dict[str, Any],
    files: list[DraftFile],
    source: str,
) -> str:
    person_id, school_id = reporter
    with transaction() as session:
        return add_draft(
            session,
            person_id=person_id,
            school_id=school_id,
            incident_type=kind,
            answers=answers,
            files=files,
            source=source,
        )


def _replace(draft: Draft, answers: dict[str, Any], files: list[DraftFile], source: str) -> None:
    with transaction() as session:
        if not replace_answers(session, draft.id, answers, files, source):
            raise AlreadySending


def read_back(draft: Draft) -> list[UploadedFile]:
    """The draft's files as they were attached; DraftFilesLost if any is gone or changed."""
    store = quarantine_files()
    uploads = []
    for f in draft.files:
        try:
            data = store.path(f.stored_name).read_bytes()
        except (OSError, ValueError):
            raise DraftFilesLost(f.filename) from None
        if hashlib.sha256(data).hexdigest() != f.sha256:
            raise DraftFilesLost(f.filename)
        uploads.append(UploadedFile(f.filename, f.content_type, data))
    return uploads


def send_draft(draft: Draft, new: NewCase) -> int:
    """Open the draft's case exactly as a one-step report does, once however often it is
    asked; returns the case id. AlreadySending if another request has sent or is sending
    it; DraftFilesLost (the draft kept) if its files cannot be read back."""
    now = utcnow()
    with transaction() as session:
        mine = claim_draft(
            session, draft.id, made_after=now - LIFETIME, stale_before=now - CLAIM_TIMEOUT
        )
    if not mine:
        raise AlreadySending
    try:
        uploads = read_back(draft)
        # The draft is marked sent in the case's own transaction: a process that dies at any
        # moment leaves either both or neither, so no later press can open a second case.
        case_id = open_reported_case(
            draft.person_id,
            draft.school_id,
            new,
            uploads,
            draft.evidence_source,
            then=lambda session, opened: mark_sent(session, draft.id, opened),
        )
    except BaseException:
        _release(draft)
        raise
    quarantine_files().erase(f.stored_name for f in draft.files)
    return case_id


def _release(draft: Draft) -> None:
    """Let the draft be sent again after a failed send (the failure itself is what matters)."""
    try:
        with transaction() as session:
            release_draft(session, draft.id)
    except Exception:
        log.exception("could not release report draft %s after a failed send", draft.id)


def sent_case(draft_id: int, wait_seconds: float = 5.0) -> int | None:
    """The case a draft became, waiting up to `wait_seconds` for a send under way."""
    deadline = time.monotonic() + wait_seconds
    while True:
        with reading() as session:
            case_id = case_of_draft(session, draft_id)
        if case_id is not None or time.monotonic() >= deadline:
            return case_id
        time.sleep(0.25)


def forget_draft(draft: Draft) -> None:
    """Delete one draft and its files (an expired one met by its owner)."""
    with transaction() as session:
        remove_draft(session, draft.id)
    quarantine_files().erase(f.stored_name for f in draft.files)


def purge_expired(now: datetime | None = None) -> int:
    """Delete every draft older than LIFETIME and its files, and any quarantined file no
    draft can own; returns how many drafts went. Safe on several workers at once."""
    now = now or utcnow()
    with transaction() as session:
        gone = remove_drafts(
            session, made_before=now - LIFETIME, claimed_before=now - CLAIM_TIMEOUT
        )
    store = quarantine_files()
    store.erase(f.stored_name for d in gone for f in d.files)
    _erase_orphans(store, now)
    return len(gone)


def _erase_orphans(store: FileStore, now: datetime) -> None:
    """Erase quarantined files (and half-written ones) older than ORPHAN_AGE."""
    if not store.directory.is_dir():
        return
    oldest = (now - ORPHAN_AGE).timestamp()
    for path in store.directory.iterdir():
        try:
            if path.is_file() and path.stat().st_mtime < oldest:
                path.unlink(missing_ok=True)
        except OSError:
            continue  # gone meanwhile, or not ours to remove: the next pass tries again
