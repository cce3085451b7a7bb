"""Signed checkpoints find what the hash chain alone cannot: the newest events removed, the
whole chain rewritten without the key, an older backup restored, a forged checkpoint."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select

from casework.cli import main as casework
from casework.reconciler import sign_audit_checkpoint
from core.settings import Settings, get_settings
from db.audit import GENESIS, chain_head, record_event, rehash, verify_chain
from db.models import AuditEvent
from db.session import dispose_engine, transaction
from tests.stack import copy_sqlite
from tests.support import create_pg_database, drop_pg_database, make_case, past_the_audit_guard


def write_events(url: str, n: int) -> str:
    """Write `n` events on a new case; returns the chain they are on."""
    case_id = make_case(url)
    with transaction(url) as session:
        for i in range(n):
            event = record_event(session, case_id=case_id, kind="test.recorded", data={"n": i})
        return event.chain


def verify(capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = casework(["audit", "verify"])
    return code, capsys.readouterr().out


def test_removing_the_newest_events_is_found(
    configured: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    url = configured.database_url
    chain = write_events(url, 5)
    assert verify(capsys)[0] == 0
    with transaction(url) as session:
        last, _ = chain_head(session, chain)
        past_the_audit_guard(session)
        session.execute(
            delete(AuditEvent).where(AuditEvent.chain == chain, AuditEvent.chain_seq > last - 3)
        )
    with transaction(url) as session:
        assert verify_chain(session).ok, "what is left still hangs together"

    code, said = verify(capsys)

    assert code == 1 and "BROKEN" in said
    assert f"Oakfield Primary School's chain ends at position {last - 3}" in said
    assert "newest events were removed" in said


def test_a_chain_rewritten_without_the_key_is_found(
    configured: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    url = configured.database_url
    chain = write_events(url, 4)
    assert verify(capsys)[0] == 0
    with transaction(url) as session:  # change one event, then re-hash everything after it
        past_the_audit_guard(session)
        events = session.scalars(
            select(AuditEvent).where(AuditEvent.chain == chain).order_by(AuditEvent.chain_seq)
        )
        prev = GENESIS
        for event in events:
            if event.kind == "test.recorded" and event.data == {"n": 1}:
                event.data = {"n": 100}
            event.prev_hash = prev
            event.hash = prev = rehash(event)
    with transaction(url) as session:
        assert verify_chain(session).ok, "the rewritten chain hangs together"

    code, said = verify(capsys)

    assert code == 1 and "the chain was rewritten" in said


def test_an_older_backup_restored_is_found(
    configured: Settings,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = configured.database_url
    write_events(url, 2)
    if url.startswith("sqlite"):
        database = Path(url.split("///", 1)[1])
        copy_sqlite(database, tmp_path / "backup.db")
    else:  # the backup is a copy of the database, made while nobody is connected to it
        admin = os.environ["CASEWORK_TEST_POSTGRES_URL"]
        dispose_engine(url)
        backup = create_pg_database(admin, template=url)
    write_events(url, 3)
    assert verify(capsys)[0] == 0

    if url.startswith("sqlite"):
        copy_sqlite(tmp_path / "backup.db", database)
    else:  # restored: Casework now runs on the copy
        monkeypatch.setenv("CASEWORK_DATABASE_URL", backup)
        get_settings.cache_clear()
    try:
        code, said = verify(capsys)
    finally:
        if not url.startswith("sqlite"):
            drop_pg_database(admin, backup)

    assert code == 1 and "an older copy of the database was restored" in said


def test_a_forged_checkpoint_is_found(
    configured: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    write_events(configured.database_url, 2)
    assert verify(capsys)[0] == 0
    log = configured.audit_checkpoint_path
    signed = json.loads(log.read_text().splitlines()[-1])
    chain = next(iter(signed["chains"]))
    forged = {**signed, "chains": {chain: [1, signed["chains"][chain][1]]}}  # hides the rest
    with open(log, "a") as out:
        out.write(json.dumps(forged) + "\n")

    code, said = verify(capsys)

    assert code == 1 and "line 2 of the checkpoint log is not signed by the key" in said


def test_the_key_is_readable_by_its_owner_only_and_the_worker_signs_now_and_then(
    configured: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert sign_audit_checkpoint(), "no checkpoint yet: one is written"
    assert not sign_audit_checkpoint(), "not again within the hour"
    assert stat.S_IMODE(configured.audit_key_path.stat().st_mode) == 0o600
    monkeypatch.setenv("CASEWORK_AUDIT_CHECKPOINT_MINUTES", "0")
    get_settings.cache_clear()
    assert sign_audit_checkpoint()
    assert len(configured.audit_checkpoint_path.read_text().splitlines()) == 2


def test_the_auditors_page_compares_the_chain_with_the_last_checkpoint(
    signed_in: Callable[[str], TestClient],
    configured: Settings,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = configured.database_url
    write_events(url, 3)
    assert verify(capsys)[0] == 0
    auditor = signed_in("auditor@oakfield.example")
    assert "The audit chain is intact" in auditor.get("/audit").text
    signed = json.loads(configured.audit_checkpoint_path.read_text().splitlines()[-1])
    with transaction(url) as session:  # back to before the last event the checkpoint saw
        past_the_audit_guard(session)
        for chain, (length, _) in signed["chains"].items():
            session.execute(
                delete(AuditEvent).where(AuditEvent.chain == chain, AuditEvent.chain_seq >= length)
            )

    page = auditor.get("/audit").text

    assert "does not match its last signed checkpoint" in page
    assert "the newest events were removed" in page
    assert "The audit chain is intact" not in page


def test_an_evidence_file_changed_on_disk_is_found(
    configured: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    from core.files import evidence_files
    from db.models import Evidence
    from tests.api.test_auditor_views import a_case_with_evidence

    url = configured.database_url
    a_case_with_evidence(url)
    assert verify(capsys)[0] == 0
    with transaction(url) as session:
        item = session.scalars(select(Evidence)).one()
    path = evidence_files().path(item.stored_name)
    path.chmod(0o640)
    data = path.read_bytes()
    path.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))

    code, said = verify(capsys)

    assert code == 1 and f"evidence file {item.id} of case" in said
    assert "has changed since it was saved" in said
    path.unlink()
    code, said = verify(capsys)
    assert code == 1 and f"evidence file {item.id} of case" in said and "is missing" in said


def test_a_case_pack_changed_on_disk_is_found(
    configured: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """A frozen pack is evidence of what was sent: its files are checked like evidence."""
    from core.enums import IncidentType
    from core.files import pack_files
    from db.cases import get_case
    from db.models import CasePack
    from services.escalation import escalate_to_hr
    from tests.support import make_case

    url = configured.database_url
    case_id = make_case(url, IncidentType.STAFF_CONDUCT)
    with transaction(url) as session:
        escalate_to_hr(session, get_case(session, case_id))
    assert verify(capsys)[0] == 0
    with transaction(url) as session:
        pack = session.scalars(select(CasePack)).one()
    path = pack_files().path(pack.pdf_name)
    path.chmod(0o640)
    path.write_bytes(path.read_bytes() + b"%% added later")

    code, said = verify(capsys)

    assert code == 1 and f"HR pack {pack.id}, PDF of case" in said
    assert "has changed since it was saved" in said
    path.unlink()
    code, said = verify(capsys)
    assert code == 1 and f"HR pack {pack.id}, PDF of case" in said and "is missing" in said
