"""One worker at a time makes the reconciler's pass; the others skip their turn."""

from __future__ import annotations

import threading

from db.election import Office, elected


def test_only_one_process_holds_an_office_at_a_time(db_url: str) -> None:
    with elected(Office.RECONCILER, db_url) as first:
        assert first
        seen: list[bool] = []

        def another_machine() -> None:
            # Another thread takes another connection: to PostgreSQL, another session.
            with elected(Office.RECONCILER, db_url) as second:
                seen.append(second)

        thread = threading.Thread(target=another_machine)
        thread.start()
        thread.join(10)
        # SQLite is one machine's database, so there is nobody to stand aside for.
        assert seen == [db_url.startswith("sqlite")]
    with elected(Office.RECONCILER, db_url) as again:
        assert again, "given back when the work is done"


def test_the_office_is_given_back_when_the_work_fails(db_url: str) -> None:
    try:
        with elected(Office.RECONCILER, db_url) as held:
            assert held
            raise RuntimeError("the pass failed")
    except RuntimeError:
        pass
    done = threading.Event()

    def next_turn() -> None:
        with elected(Office.RECONCILER, db_url) as held:
            if held:
                done.set()

    thread = threading.Thread(target=next_turn)
    thread.start()
    thread.join(10)
    assert done.is_set()
