"""The auditor's views: a case's chronology in words, a check of one case's trail, a person's
history, a bundle that can be checked with no database; every one of them is written to the
trail, and nothing an auditor can send changes a case."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from casework.cli import main as casework
from core.enums import AuditKind, Role
from core.files import evidence_files
from core.settings import Settings
from db.audit import record_event
from db.evidence import add_evidence
from db.models import AuditEvent, Person
from db.people import actor_of
from db.session import transaction
from services.audit_bundle import verify_bundle
from services.audit_checkpoints import audit_key
from tests.support import case_row, csrf_of, make_case, past_the_audit_guard, person

AUDITOR = "auditor@oakfield.example"
SCREENSHOT = b"\x89PNG\r\n\x1a\n" + b"screenshot of the message" * 40


def views_logged(url: str, view: str) -> list[AuditEvent]:
    with transaction(url) as session:
        return [
            event
            for event in session.scalars(
                select(AuditEvent).where(AuditEvent.kind == AuditKind.AUDIT_VIEWED)
            )
            if event.data.get("view") == view
        ]


def a_case_with_evidence(url: str) -> int:
    case_id = make_case(url)
    staff = person(url, Role.STAFF)
    with transaction(url) as session:
        uploader = session.get(Person, staff.id)
        assert uploader is not None
        add_evidence(
            session,
            case_id,
            uploader,
            evidence_files().save(SCREENSHOT),
            filename="message.png",
            content_type="image/png",
            source="Instagram direct message",
        )
    return case_id


def test_the_chronology_says_who_did_what_when_and_what_changed(
    signed_in: Callable[[str], TestClient], configured: Settings
) -> None:
    url = configured.database_url
    case_id = make_case(url)
    dsl, reporter = person(url, Role.DSL), person(url, Role.STAFF)
    with transaction(url) as session:  # as services.case_work.correct records one
        record_event(
            session,
            case_id=case_id,
            kind=AuditKind.CASE_CORRECTED,
            actor=session.get(Person, dsl.id),
            data={
                "field": "pupil_year_group",
                "label": "Year group",
                "before": "Year 6",
                "after": "Year 5",
                "reason": "Wrong year.",
            },
        )
    auditor = signed_in(AUDITOR)

    page = auditor.get(f"/cases/{case_id}/chronology")

    assert page.status_code == 200
    text = page.text
    opened = f"<strong>{reporter.name}</strong>, Member of staff: Reported the incident"
    corrected = f"<strong>{dsl.name}</strong>, Designated safeguarding lead: Corrected"
    assert opened in text and corrected in text
    assert "UK time" in text and " UTC)" in text
    assert '<th scope="row">Year group</th><td>Year 6</td><td>Year 5</td>' in text
    assert "Wrong year." in text
    assert "case.opened" not in text, "no event codes"
    logged = views_logged(url, "chronology")
    assert [event.case_id for event in logged] == [case_id]
    assert logged[0].actor.endswith("(auditor)")


def test_checking_one_case_says_intact_or_names_the_changed_event(
    signed_in: Callable[[str], TestClient], configured: Settings
) -> None:
    url = configured.database_url
    case_id = make_case(url)
    with transaction(url) as session:
        changed = record_event(session, case_id=case_id, kind="test.recorded", data={"n": 1})
        changed_seq = changed.seq
    auditor = signed_in(AUDITOR)
    assert "Intact." in auditor.get(f"/cases/{case_id}/verify").text

    with transaction(url) as session:
        past_the_audit_guard(session)
        session.execute(
            update(AuditEvent).where(AuditEvent.seq == changed_seq).values(data={"n": 2})
        )
    page = auditor.get(f"/cases/{case_id}/verify").text

    assert "trail has been changed" in page
    assert f"event {changed_seq} was changed after it was written" in page
    assert f"#event-{changed_seq}" in page
    checks = views_logged(url, "verify")
    assert [event.data["intact"] for event in checks] == [True, False]


def test_a_persons_history_lists_every_case_they_had_a_part_in(
    signed_in: Callable[[str], TestClient], configured: Settings
) -> None:
    url = configured.database_url
    first, second = make_case(url), make_case(url)
    reporter = person(url, Role.STAFF)
    auditor = signed_in(AUDITOR)

    page = auditor.get(f"/audit/people/{reporter.id}")

    assert page.status_code == 200
    references = [case_row(url, first).reference, case_row(url, second).reference]
    for reference in references:
        assert reference in page.text
    assert "reported it" in page.text
    logged = views_logged(url, "person")
    assert logged and logged[-1].data["person_id"] == reporter.id
    assert logged[-1].chain.startswith("school:"), "logged on the school's chain"
    assert auditor.get("/audit/people/999999").status_code == 404
    home = auditor.get("/audit").text
    assert f"/audit/people/{reporter.id}" in home and "audit chain is intact" in home
    assert views_logged(url, "chain")


def test_nothing_an_auditor_can_send_changes_a_case(configured: Settings) -> None:
    """Every write the access matrix knows of is refused (or hidden) for the auditor, by
    the policy the matrix tests route by route."""
    from tests.access_matrix import OK, matrix
    from tests.access_world import build

    world = build(configured.database_url)
    with transaction(configured.database_url) as session:
        auditor = session.scalars(select(Person).where(Person.email == AUDITOR)).one()
        actor = actor_of(session, auditor)
    harmless = {"/school/switch", "/signout"}  # the auditor's own session, nothing else
    writes = [
        ask
        for asks in matrix(world).values()
        for ask in asks
        if ask.method == "POST" and ask.path not in harmless
    ]
    assert len(writes) > 20
    allowed = [ask.path for ask in writes if ask.rule(actor) == OK]
    assert allowed == []


def download_bundle(client: TestClient, case_id: int) -> bytes:
    response = client.get(f"/cases/{case_id}/bundle.zip")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    return response.content


def rewritten(bundle: bytes, name: str, change: Callable[[bytes], bytes]) -> bytes:
    """The bundle with one file changed and nothing else."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(bundle)) as source, zipfile.ZipFile(out, "w") as target:
        for item in source.namelist():
            data = source.read(item)
            target.writestr(item, change(data) if item == name else data)
    return out.getvalue()


def flip_one_byte(data: bytes) -> bytes:
    middle = len(data) // 2
    return data[:middle] + bytes([data[middle] ^ 1]) + data[middle + 1 :]


def test_a_bundle_verifies_offline_and_one_changed_byte_does_not(
    signed_in: Callable[[str], TestClient],
    configured: Settings,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = configured.database_url
    case_id = a_case_with_evidence(url)
    assert casework(["audit", "verify"]) == 0  # a signed checkpoint to carry
    with transaction(url) as session:  # later events: the bundle links them to the head
        record_event(session, case_id=case_id, kind="test.recorded", data={"n": 1})
    auditor = signed_in(AUDITOR)
    bundle = download_bundle(auditor, case_id)
    key = audit_key(configured)

    with zipfile.ZipFile(io.BytesIO(bundle)) as opened:
        names = set(opened.namelist())
        manifest = json.loads(opened.read("manifest.json"))
        evidence = next(n for n in names if n.startswith("evidence/"))
        assert opened.read(evidence) == SCREENSHOT
        assert opened.read("chronology.pdf").startswith(b"%PDF")
        procedure = json.loads(opened.read("procedure.json"))
    assert {"events.json", "chain.json", "checkpoint.json", "manifest.sig"} <= names
    assert procedure["version_followed"] and manifest["chain"].startswith("school:")

    intact = verify_bundle(bundle, key)
    assert intact.ok, intact.problems
    assert any("sit in the chain" in line for line in intact.checked)
    assert any("checkpoint is signed" in line for line in intact.checked)

    for name in ("events.json", "chronology.pdf", evidence):
        broken = verify_bundle(rewritten(bundle, name, flip_one_byte), key)
        assert not broken.ok, name
        assert any(name in problem for problem in broken.problems), broken.problems

    # Someone without the key changes a file and the manifest to match: the signature
    # gives it away, and without the key the trail's own record of the evidence still does.
    tampered = flip_one_byte(SCREENSHOT)
    forged = rewritten(bundle, evidence, lambda _: tampered)
    forged_manifest = {**manifest, "files": {**manifest["files"], evidence: sha(tampered)}}
    forged = rewritten(forged, "manifest.json", lambda _: json.dumps(forged_manifest).encode())
    assert "manifest.json is not signed by the audit key" in verify_bundle(forged, key).problems
    keyless = verify_bundle(forged, None)
    assert f"{evidence} is not a file the trail recorded being saved" in keyless.problems

    (tmp_path / "good.zip").write_bytes(bundle)
    (tmp_path / "bad.zip").write_bytes(rewritten(bundle, "events.json", flip_one_byte))
    assert casework(["audit", "verify-bundle", str(tmp_path / "good.zip")]) == 0
    assert "Bundle intact" in capsys.readouterr().out
    assert casework(["audit", "verify-bundle", str(tmp_path / "bad.zip")]) == 1
    assert "Bundle BROKEN" in capsys.readouterr().out
    with transaction(url) as session:
        exported = session.scalars(
            select(AuditEvent).where(AuditEvent.kind == AuditKind.AUDIT_EXPORTED)
        ).all()
    assert [event.data["format"] for event in exported] == ["bundle"]


def sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def test_the_dsl_marks_an_event_in_error_from_the_chronology(
    signed_in: Callable[[str], TestClient], configured: Settings
) -> None:
    url = configured.database_url
    case_id = make_case(url)
    with transaction(url) as session:
        wrong = record_event(session, case_id=case_id, kind="test.recorded", data={"n": 1})
        seq = wrong.seq
    dsl = signed_in("dsl@oakfield.example")
    chronology = dsl.get(f"/cases/{case_id}/chronology").text
    assert f'href="/cases/{case_id}/events/{seq}/error"' in chronology
    form = dsl.get(f"/cases/{case_id}/events/{seq}/error")
    assert form.status_code == 200 and "Why is this event wrong?" in form.text
    token = csrf_of(form.text)

    empty = dsl.post(f"/cases/{case_id}/events/{seq}/error", data={"csrf_token": token})
    assert empty.status_code == 400 and "Say why the event is wrong." in empty.text
    assert "<title>Error:" in empty.text
    long = dsl.post(
        f"/cases/{case_id}/events/{seq}/error", data={"csrf_token": token, "reason": "x" * 1001}
    )
    assert long.status_code == 400 and "x" * 1001 in long.text, "the words typed are kept"
    done = dsl.post(
        f"/cases/{case_id}/events/{seq}/error",
        data={"csrf_token": token, "reason": "Recorded against the wrong case."},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert done.headers["location"] == f"/cases/{case_id}/chronology#event-{seq}"
    page = dsl.get(f"/cases/{case_id}/chronology").text
    assert "Marked in error" in page and "Recorded against the wrong case." in page
    with transaction(url) as session:
        original = session.scalars(select(AuditEvent).where(AuditEvent.seq == seq)).one()
        assert original.data == {"n": 1}, "the event itself stays as it was written"
    assert dsl.get(f"/cases/{case_id}/events/99999/error").status_code == 404

    auditor = signed_in(AUDITOR)  # the same browser, now the auditor's: reads, cannot mark
    read = auditor.get(f"/cases/{case_id}/chronology").text
    assert "Recorded against the wrong case." in read and f"/events/{seq}/error" not in read
    assert auditor.get(f"/cases/{case_id}/events/{seq}/error").status_code == 403
