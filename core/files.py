"""Files Casework keeps: evidence originals, print-ready letters and the case packs sent.

Each is written once under a random name, outside any served folder, made read-only and
never altered; the database keeps its SHA-256 so a change is always detectable. A file goes
only when its case is disposed of at the end of its retention (services/retention.py).
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from core.settings import get_settings

CHUNK = 1024 * 1024


@dataclass(frozen=True)
class StoredFile:
    stored_name: str
    sha256: str
    size: int


class FileStore:
    """One folder of write-once files with generated names."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, stored_name: str) -> Path:
        """Where a stored file is; refuses any name we could not have made."""
        if not stored_name.isalnum():
            raise ValueError("not a stored file name")
        return self.directory / stored_name

    def save(self, data: bytes) -> StoredFile:
        """Write `data` atomically under a new random name."""
        self.directory.mkdir(parents=True, exist_ok=True)
        name = uuid.uuid4().hex
        tmp = self.directory / f".{name}.part"
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.directory / name)
        os.chmod(self.directory / name, 0o440)
        return StoredFile(name, hashlib.sha256(data).hexdigest(), len(data))

    def sha256(self, stored_name: str) -> str:
        """The file's SHA-256 as it is on disk now."""
        digest = hashlib.sha256()
        with open(self.path(stored_name), "rb") as fh:
            while chunk := fh.read(CHUNK):
                digest.update(chunk)
        return digest.hexdigest()

    def discard(self, stored_names: Iterable[str]) -> None:
        """Remove files whose database rows never committed."""
        for name in stored_names:
            self.path(name).unlink(missing_ok=True)

    def erase(self, stored_names: Iterable[str]) -> int:
        """Remove the files of a disposed case; returns how many were still there."""
        removed = 0
        for name in stored_names:
            path = self.path(name)
            if path.exists():
                path.unlink()
                removed += 1
        return removed


def evidence_files() -> FileStore:
    """Evidence originals, byte for byte as they were uploaded."""
    return FileStore(get_settings().evidence_dir)


def letter_files() -> FileStore:
    """Print-ready PDFs of letters to parents who asked for post."""
    return FileStore(get_settings().letters_dir)


def pack_files() -> FileStore:
    """Each HR and police case pack as it was produced: its HTML and its PDF."""
    return FileStore(get_settings().files_path / "packs")
