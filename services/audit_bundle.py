"""A case's audit bundle: everything an auditor, Ofsted or a court needs to rely on the case's
history away from Casework, and the check that it is as it was exported.

The ZIP holds:
- chronology.pdf: the case's history in words;
- events.json: each event as stored (its data as the exact text that was hashed), so each
  hash can be recomputed;
- chain.json: the school's chain from just before the case's first event to its head at
  export, as place, previous hash and hash only (other cases' content stays out), so each
  of the case's events can be seen to sit in the chain;
- procedure.json: the procedure and the version the case followed;
- evidence/...: the evidence files, byte for byte (left out, and said so, for a case with
  sexual images of a child reported: those must not be copied);
- checkpoint.json: the last signed checkpoint of the chain, if one has been written;
- manifest.json: every other file's SHA-256, the chain's head at export, who exported it;
- manifest.sig: an HMAC-SHA256 of manifest.json with the audit key, so a bundle whose files
  and manifest were both changed is still caught by whoever holds the key.

`verify_bundle` needs no database: the bundle and, for the two signatures, the key file.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import itertools
import json
import zipfile
from dataclasses import dataclass, field
from typing import Any

from core.enums import AuditKind
from core.files import evidence_files
from core.pdf import render_pdf
from core.procedures import procedure_for
from core.settings import Settings
from core.templating import render
from db.audit import (
    GENESIS,
    case_links,
    chain_head,
    marked_in_error,
    rehash_stored,
    school_chain,
    spine,
)
from db.audit import case_events as audit_events_of
from db.evidence import evidence_of
from db.models import Case, Person, utcnow
from db.schools import get_school
from db.session import Session
from services.audit_checkpoints import as_line, audit_key, parse_checkpoint, read_checkpoints
from services.chronology import chronology

MANIFEST, SIGNATURE = "manifest.json", "manifest.sig"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _json(value: Any) -> bytes:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False).encode()


def build_bundle(session: Session, case: Case, by: Person, settings: Settings) -> bytes:
    """The case's bundle as ZIP bytes (the caller records that it was exported)."""
    chain = school_chain(case.school_id)
    events = case_links(session, case.id)
    length, head = chain_head(session, chain)
    first = min((e["chain_seq"] for e in events if e["chain"] == chain), default=length)
    files: dict[str, bytes] = {
        "events.json": _json({"case": case.reference, "chain": chain, "events": events}),
        "chain.json": _json(
            {
                "chain": chain,
                "links": [list(link) for link in spine(session, chain, first - 1, length)],
            }
        ),
        "procedure.json": _json(_procedure(case)),
        "chronology.pdf": _chronology_pdf(session, case, by),
    }
    withheld = []
    store = evidence_files()
    for item in evidence_of(session, case.id):
        name = f"evidence/{item.id}-{_safe(item.original_filename)}"
        if case.safeguarding or case.disposed_at is not None:
            # Sexual images of a child must not be copied; a disposed case's files are gone.
            why = "disposed of" if case.disposed_at is not None else "safeguarding"
            withheld.append({"file": name, "sha256": item.sha256, "size": item.size, "why": why})
        else:
            files[name] = store.path(item.stored_name).read_bytes()
    point = read_checkpoints(settings).last
    if point is not None and chain in point.chains:
        # The whole line: its signature covers every chain's head (heads only, no content).
        files["checkpoint.json"] = _json(as_line(point))
    manifest = _json(
        {
            "case": case.reference,
            "exported_at": utcnow().isoformat(timespec="seconds"),
            "exported_by": f"{by.name} ({by.role.value})",
            "chain": chain,
            "head": [length, head],
            "files": {name: _sha256(data) for name, data in sorted(files.items())},
            "withheld": withheld,
        }
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, data in sorted(files.items()):
            bundle.writestr(name, data)
        bundle.writestr(MANIFEST, manifest)
        bundle.writestr(SIGNATURE, _mac(audit_key(settings), manifest))
    return out.getvalue()


def _mac(key: bytes, data: bytes) -> str:
    return hmac.new(key, data, hashlib.sha256).hexdigest()


def _safe(filename: str) -> str:
    """A file name safe to unpack anywhere: no folders, no odd characters."""
    kept = "".join(c if c.isalnum() or c in "._-" else "_" for c in filename)
    return kept.lstrip(".")[:80] or "file"


def _procedure(case: Case) -> dict[str, Any]:
    procedure = procedure_for(case.incident_type)
    return {
        "incident_type": case.incident_type.value,
        "procedure": procedure.label,
        "version_followed": case.procedure_version,
        "current_version": procedure.version,
        "steps": [{"key": s.key, "title": s.title} for s in procedure.steps],
    }


def _chronology_pdf(session: Session, case: Case, by: Person) -> bytes:
    entries = chronology(audit_events_of(session, case.id), marked_in_error(session, case.id))
    html = render(
        "letters/audit_chronology.html.j2",
        case=case,
        entries=entries,
        school_name=get_school(session, case.school_id).name,
        label=procedure_for(case.incident_type).label,
        exported_at=utcnow(),
        exported_by=f"{by.name}, {by.role.label}",
    )
    return render_pdf(html)


@dataclass
class BundleCheck:
    """What checking a bundle found: problems (none means intact) and what was checked."""

    problems: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_bundle(data: bytes, key: bytes | None) -> BundleCheck:
    """Check a bundle with no database: files against the manifest, each event's hash, the
    events' places in the chain, the head against the checkpoint, and (with the key) both
    signatures."""
    found = BundleCheck()
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as bundle:
            files = {name: bundle.read(name) for name in bundle.namelist()}
    except (zipfile.BadZipFile, ValueError, OSError) as error:
        found.problems.append(f"the file is not a readable ZIP ({error})")
        return found
    if MANIFEST not in files:
        found.problems.append("the bundle has no manifest.json")
        return found
    manifest = json.loads(files[MANIFEST])
    _check_signature(found, files, key)
    _check_files(found, files, manifest)
    if found.problems:
        return found
    events = json.loads(files["events.json"])["events"]
    links = {link[0]: link for link in json.loads(files["chain.json"])["links"]}
    _check_events(found, events, links, manifest)
    _check_checkpoint(found, files.get("checkpoint.json"), links, manifest, key)
    _check_evidence(found, events, files)
    return found


def _check_signature(found: BundleCheck, files: dict[str, bytes], key: bytes | None) -> None:
    if key is None:
        found.unchecked.append("the manifest's signature (no audit key given)")
        return
    given = files.get(SIGNATURE, b"").decode(errors="replace").strip()
    if hmac.compare_digest(given, _mac(key, files[MANIFEST])):
        found.checked.append("the manifest is signed by the audit key")
    else:
        found.problems.append("manifest.json is not signed by the audit key")


def _check_files(found: BundleCheck, files: dict[str, bytes], manifest: dict[str, Any]) -> None:
    listed: dict[str, str] = manifest.get("files", {})
    for name, digest in sorted(listed.items()):
        if name not in files:
            found.problems.append(f"{name} is listed in the manifest but missing")
        elif _sha256(files[name]) != digest:
            found.problems.append(f"{name} has changed: its SHA-256 is not the manifest's")
    extra = sorted(set(files) - set(listed) - {MANIFEST, SIGNATURE})
    found.problems += [f"{name} is in the bundle but not in the manifest" for name in extra]
    if not found.problems:
        found.checked.append(f"{len(listed)} files match the manifest's SHA-256")


def _check_events(
    found: BundleCheck,
    events: list[dict[str, Any]],
    links: dict[int, list[Any]],
    manifest: dict[str, Any],
) -> None:
    chain, (length, head) = manifest["chain"], manifest["head"]
    positions = sorted(links)
    for before, after in itertools.pairwise(positions):
        if after != before + 1 or links[after][1] != links[before][2]:
            found.problems.append(f"the chain is broken between places {before} and {after}")
            return
    if positions and (positions[-1] != length or links[length][2] != head):
        found.problems.append("the chain does not end at the head the manifest gives")
        return
    for event in events:
        if rehash_stored(event) != event["hash"]:
            found.problems.append(f"event {event['seq']} was changed after it was written")
            return
        if event["chain"] != chain:
            continue  # written before each school had a chain of its own
        link = links.get(event["chain_seq"])
        starts = event["chain_seq"] == 1
        if (
            link is None
            or link[2] != event["hash"]
            or link[1] != event["prev_hash"]
            or (starts and event["prev_hash"] != GENESIS)
        ):
            found.problems.append(f"event {event['seq']} is not where the chain has it")
            return
    found.checked.append(
        f"{len(events)} events re-hash correctly and sit in the chain up to its head "
        f"(place {length})"
    )


def _check_checkpoint(
    found: BundleCheck,
    raw: bytes | None,
    links: dict[int, list[Any]],
    manifest: dict[str, Any],
    key: bytes | None,
) -> None:
    if raw is None:
        found.unchecked.append("a checkpoint (none had been signed when it was exported)")
        return
    point = json.loads(raw)
    signed_length, signed_head = point["chains"][manifest["chain"]]
    if signed_length in links and links[signed_length][2] != signed_head:
        found.problems.append("the chain is not the one the checkpoint signed")
    elif signed_length in links:
        found.checked.append(f"the chain holds what the checkpoint of {point['at']} signed")
    else:
        found.unchecked.append("the checkpoint signed a place before the case's events")
    if key is None:
        found.unchecked.append("the checkpoint's signature (no audit key given)")
    elif parse_checkpoint(key, json.dumps(point)) is None:
        found.problems.append("checkpoint.json is not signed by the audit key")
    else:
        found.checked.append("the checkpoint is signed by the audit key")


def _check_evidence(
    found: BundleCheck, events: list[dict[str, Any]], files: dict[str, bytes]
) -> None:
    recorded = {
        json.loads(e["data"]).get("sha256") for e in events if e["kind"] == AuditKind.EVIDENCE_SAVED
    }
    for name, data in files.items():
        if name.startswith("evidence/") and _sha256(data) not in recorded:
            found.problems.append(f"{name} is not a file the trail recorded being saved")
    if not found.problems:
        found.checked.append("each evidence file is one the trail recorded, byte for byte")
