"""The sender's crash journal on a real disk: what it keeps, what a torn line counts as, who
may hold it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from mail.journal import Journal, JournalBusy


@pytest.mark.parametrize("sync", [False, True], ids=["written", "synced"])
def test_accepted_rows_are_read_back_by_the_next_sender_of_the_name(
    tmp_path: Path, sync: bool
) -> None:
    path = tmp_path / "journal" / "sender-a.journal"
    first = Journal(path, sync)

    async def accept_several() -> None:
        # Several connections' answers at once share syncs; each returns only once its own
        # line is on disk.
        await asyncio.gather(*(first.accepted(n, f"<{n}@casework>") for n in range(1, 41)))

    asyncio.run(accept_several())
    first.close()  # as a kill would: nothing cleared
    second = Journal(path)
    assert second.left_behind() == set(range(1, 41))
    second.clear()
    assert second.left_behind() == set()


def test_a_line_torn_by_the_kill_counts_as_not_sent(tmp_path: Path) -> None:
    """A half-written last line never reached the disk whole: that message goes again."""
    path = tmp_path / "sender.journal"
    path.write_bytes(b"7 <7@casework>\n8 <8@casework>\n9 <9@cas")
    assert Journal(path).left_behind() == {7, 8}


def test_two_running_senders_cannot_share_a_journal(tmp_path: Path) -> None:
    path = tmp_path / "sender.journal"
    running = Journal(path)
    with pytest.raises(JournalBusy):
        Journal(path)
    running.close()
    Journal(path).close()  # free again once the first has gone
