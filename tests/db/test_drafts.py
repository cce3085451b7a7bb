"""Report drafts: found only by their token, sent by one request at a time, purged when old."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from core.enums import IncidentType
from core.settings import Settings
from db.drafts import (
    DraftFile,
    add_draft,
    claim_draft,
    find_draft,
    mark_sent,
    release_draft,
    remove_drafts,
)
from db.models import Person, ReportDraft, Role, utcnow
from db.session import transaction

FILE = DraftFile("abc123", "0" * 64, 12, "shot.png", "image/png")


def a_draft(url: str) -> tuple[str, int]:
    with transaction(url) as session:
        staff = session.scalars(select(Person).where(Person.role == Role.STAFF)).first()
        assert staff is not None
        token = add_draft(
            session,
            person_id=staff.id,
            school_id=staff.school_id,
            incident_type=IncidentType.PUPIL_CONTACT,
            answers={"pupil_name": "Jordan Miles", "content_kinds": ["a", "b"]},
            files=[FILE],
            source="instagram.com/x",
        )
        found = find_draft(session, token)
        assert found is not None
        return token, found.id


def test_a_draft_is_found_by_its_token_alone(configured: Settings) -> None:
    url = configured.database_url
    token, _ = a_draft(url)
    with transaction(url) as session:
        draft = find_draft(session, token)
        assert draft is not None
        assert draft.answers == {"pupil_name": "Jordan Miles", "content_kinds": ["a", "b"]}
        assert draft.files == (FILE,) and draft.evidence_source == "instagram.com/x"
        assert find_draft(session, token + "x") is None
        stored = session.scalars(select(ReportDraft.token_hash)).one()
        assert token not in stored, "only the token's hash is kept"


def test_one_request_at_a_time_sends_a_draft_and_only_once(configured: Settings) -> None:
    url = configured.database_url
    _, draft_id = a_draft(url)
    now = utcnow()
    window = {"made_after": now - timedelta(hours=24), "stale_before": now - timedelta(minutes=10)}
    with transaction(url) as session:
        assert claim_draft(session, draft_id, **window)
    with transaction(url) as session:
        assert not claim_draft(session, draft_id, **window), "another request is sending it"
        release_draft(session, draft_id)
    with transaction(url) as session:
        assert claim_draft(session, draft_id, **window), "a failed send lets it go"
    later = {**window, "stale_before": utcnow() + timedelta(seconds=1)}
    with transaction(url) as session:
        assert claim_draft(session, draft_id, **later), "a claim whose request died"
    with transaction(url) as session:
        too_old = {**later, "made_after": utcnow()}
        assert not claim_draft(session, draft_id, **too_old), "a draft past its day"


def test_a_sent_draft_keeps_only_its_receipt(configured: Settings) -> None:
    from tests.support import make_case

    url = configured.database_url
    token, draft_id = a_draft(url)
    case_id = make_case(url)
    with transaction(url) as session:
        mark_sent(session, draft_id, case_id)
    with transaction(url) as session:
        draft = find_draft(session, token)
        assert draft is not None and draft.case_id == case_id
        assert (draft.answers, draft.files, draft.evidence_source) == ({}, (), "")
        window = {"made_after": utcnow() - timedelta(days=1), "stale_before": utcnow()}
        assert not claim_draft(session, draft_id, **window), "never sent twice"


def test_old_drafts_are_removed_unless_being_sent(configured: Settings) -> None:
    url = configured.database_url
    _, sending = a_draft(url)
    _, forgotten = a_draft(url)
    _, fresh = a_draft(url)
    with transaction(url) as session:
        old = utcnow() - timedelta(days=2)
        session.execute(update(ReportDraft).where(ReportDraft.id != fresh).values(created_at=old))
        session.execute(
            update(ReportDraft).where(ReportDraft.id == sending).values(claimed_at=utcnow())
        )
    with transaction(url) as session:
        cutoff = utcnow() - timedelta(hours=24)
        gone = remove_drafts(
            session, made_before=cutoff, claimed_before=utcnow() - timedelta(minutes=10)
        )
        assert [d.id for d in gone] == [forgotten] and gone[0].files == (FILE,)
    with transaction(url) as session:
        left = set(session.scalars(select(ReportDraft.id)))
        assert left == {sending, fresh}
