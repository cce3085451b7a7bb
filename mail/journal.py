"""The sender's crash journal: which messages the SMTP server accepted, on disk before the
connection sends again.

The database learns that a row was sent a few milliseconds after the server accepted it,
in batches. A sender killed in between would, without this file, leave those rows
`sending`, and whoever claims them later sends them again. So every accepted message's
outbox id is appended here and synced to disk before its connection starts the next
message; a kill can then only lose the one message per connection whose answer had come
but whose line had not yet been written.

Each sender has its own journal, named after it (`sender_name`) and locked while it runs.
A sender starting under the same name reads what its predecessor left (`recover`): rows
listed are marked sent, every other row it still held is due again at once instead of
waiting for its lease to run out. The journal lives on the machine's own disk; it is
emptied whenever every accepted message is recorded in the database.

A line is written (write(2)) before the connection goes on, and that is what a kill needs:
the kernel keeps what a process wrote after it dies. Syncing each line to the disk as well
(`outbox_journal_sync`) also covers the machine losing power, at a price: a sync costs
milliseconds and the server's answer well under one, so lines are then synced by a
background thread, several connections' at a time (group commit), and the sender slows to
what the disk can sync. See docs/DECISIONS.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
from pathlib import Path


class JournalBusy(RuntimeError):
    """Another running sender holds this journal: two senders may not share a name."""


class Journal:
    """One sender's append-only file of accepted outbox ids, held locked while it runs."""

    # A line of a few dozen bytes goes to the file in one write(2) on a local disk, so a kill
    # can tear at most the line being written, never one already written.

    def __init__(self, path: Path, sync: bool = False) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.sync = sync
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._fd)
            raise JournalBusy(f"another sender is using {path.name}") from None
        self._pending: list[bytes] = []
        self._added = 0  # lines handed to `accepted`, numbered from 1
        self._synced = 0  # the last line number known to be on disk
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sync_lock = asyncio.Lock()

    def left_behind(self) -> set[int]:
        """The outbox ids a previous sender of this name wrote here and did not clear."""
        with open(self.path, "rb") as file:
            found: set[int] = set()
            for line in file:
                first = line.split(b" ", 1)[0]
                # A kill mid-write leaves at most a torn last line: it never reached the disk
                # as a whole, so its message counts as unrecorded (sent again), not as sent.
                if line.endswith(b"\n") and first.isdigit():
                    found.add(int(first))
            return found

    async def accepted(self, row_id: int, message_id: str) -> None:
        """Return once this row's line is written (and synced to disk, if `sync`)."""
        line = f"{row_id} {message_id}\n".encode()
        if not self.sync:
            self._write(line)
            return
        self._pending.append(line)
        self._added += 1
        mine = self._added
        async with self._lock():
            if self._synced >= mine:
                return  # a sync that started after our line was added carried it
            lines, upto = self._pending, self._added
            self._pending = []
            await asyncio.to_thread(self._write_and_sync, b"".join(lines))
            self._synced = upto

    def _lock(self) -> asyncio.Lock:
        """One sync at a time; a new lock for a new event loop (an asyncio lock is bound to
        one, and a process may run its passes one `asyncio.run` after another)."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._loop, self._sync_lock = loop, asyncio.Lock()
        return self._sync_lock

    def _write(self, data: bytes) -> None:
        while data:
            data = data[os.write(self._fd, data) :]

    def _write_and_sync(self, data: bytes) -> None:
        self._write(data)
        os.fdatasync(self._fd)

    def clear(self) -> None:
        """Empty the journal: every message it lists is now recorded in the database."""
        os.ftruncate(self._fd, 0)
        os.fsync(self._fd)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._fd)  # closing the file releases its lock
