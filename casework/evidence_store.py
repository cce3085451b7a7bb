"""Evidence originals on disk: generated names, outside any served folder, never altered."""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

from casework.settings import get_settings

CHUNK = 1024 * 1024


def evidence_path(stored_name: str) -> Path:
    if not stored_name.isalnum():
        raise ValueError("not an evidence file name")
    return get_settings().evidence_dir / stored_name


def store_bytes(data: bytes) -> tuple[str, str]:
    """Write `data` under a new random name; returns (stored_name, sha256)."""
    directory = get_settings().evidence_dir
    directory.mkdir(parents=True, exist_ok=True)
    name = uuid.uuid4().hex
    tmp = directory / f".{name}.part"
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, directory / name)
    os.chmod(directory / name, 0o440)
    return name, hashlib.sha256(data).hexdigest()


def file_sha256(stored_name: str) -> str:
    digest = hashlib.sha256()
    with open(evidence_path(stored_name), "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def discard(stored_names: list[str]) -> None:
    """Remove files whose database rows never committed."""
    for name in stored_names:
        evidence_path(name).unlink(missing_ok=True)
