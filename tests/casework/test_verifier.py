"""`casework audit verify` splits the chains over processes: each break is still found and
named, and the first chain in order is the one reported."""

from __future__ import annotations

from sqlalchemy import update

from casework.verifier import split, verify_everything
from core.settings import Settings
from db.audit import chain_heads, record_event
from db.models import AuditEvent
from db.session import reading, transaction
from tests.db.test_audit_chains import second_school
from tests.support import make_case, past_the_audit_guard


def test_chains_are_shared_out_by_their_length() -> None:
    heads = {"a": (10, ""), "b": (6, ""), "c": (5, ""), "d": (1, "")}
    assert split(heads, 2) == [["a", "d"], ["b", "c"]]
    assert split(heads, 8) == [["a"], ["b"], ["c"], ["d"]]


def test_verifying_in_several_processes_finds_and_names_a_break(configured: Settings) -> None:
    url = configured.database_url
    case_id, brook = make_case(url), second_school(url)
    with transaction(url) as session:
        for n in range(3):
            record_event(session, case_id=case_id, kind="test.recorded", data={"n": n})
            changed = record_event(session, case_id=None, kind="test.recorded", school_id=brook)
        changed_seq = changed.seq
    with reading(url) as session:
        heads = chain_heads(session)
    assert len(heads) == 2

    intact = verify_everything(url, heads, parallel_from=0)
    assert intact.ok and intact.chains == 2
    with reading(url) as session:
        assert intact.checked == session.query(AuditEvent).count()

    with transaction(url) as session:
        past_the_audit_guard(session)
        session.execute(
            update(AuditEvent).where(AuditEvent.seq == changed_seq).values(kind="test.altered")
        )
    broken = verify_everything(url, heads, parallel_from=0)
    assert not broken.ok and broken.bad_seq == changed_seq
    assert broken.problem == f"event {changed_seq} was changed after it was written"
