"""GET /cases/{id}/letter-progress: how the letter to parents is going, as its pages poll it.

The figures move as the real send step queues the letter and the real sender delivers it;
only those who see the case's full record may ask, and nobody gets a 500. The progress
partial is rendered on its own too, as the page the head lands on after approving would.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from fastapi.testclient import TestClient

from api.letter_progress import LetterProgress, progress_after_answer, progress_of
from core.enums import StepKey
from core.settings import Settings
from core.templating import render
from db.letters import LetterCounts
from db.models import OutboxStatus
from tests.db.test_letter_progress import approve_letter, mark
from tests.flows.test_letters import DEMO_PARENTS, send
from tests.support import SQLITE_ONLY, make_case

HEAD = "head@oakfield.example"
REPORTER = "amy.fletcher@oakfield.example"  # make_case's reporter: sees the case, not its record
OUTSIDER = "tom.byrne@oakfield.example"  # staff with nothing to do with the case
SIGNED = datetime(2026, 12, 7, 14, 3, tzinfo=UTC)  # 14:03 in London in winter


def progress(client: TestClient, case_id: int) -> dict[str, Any]:
    answer = client.get(f"/cases/{case_id}/letter-progress")
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    body: dict[str, Any] = answer.json()
    return body


def test_the_figures_move_as_the_letter_is_queued_and_delivered(
    signed_in: Callable[[str], TestClient], configured: Settings, deliver: Callable[[], int]
) -> None:
    url = configured.database_url
    case_id = make_case(url)
    head = signed_in(HEAD)  # first: signing in runs the sender
    assert progress(head, case_id)["state"] == "none"

    approve_letter(url, case_id)
    now = progress(head, case_id)
    assert (now["state"], now["headline"], now["going"]) == (
        "preparing",
        "Preparing the letters…",
        True,
    )

    assert send(case_id) == DEMO_PARENTS  # the send step the run takes, without Prefect
    now = progress(head, case_id)
    assert now["headline"] == f"Queued: 0 of {DEMO_PARENTS} sent"
    assert (now["total"], now["sent"], now["waiting"], now["failed"]) == (DEMO_PARENTS, 0, 50, 0)

    mark(url, case_id, OutboxStatus.SENT, 31)
    mark(url, case_id, OutboxStatus.FAILED, 2)
    now = progress(head, case_id)
    assert now["headline"] == f"Sending: 31 of {DEMO_PARENTS} sent, 2 failed"
    assert now["going"] and now["waiting"] == DEMO_PARENTS - 33
    assert any("2 letters could not be delivered by email" in said for said in now["details"])

    assert deliver() == DEMO_PARENTS - 33  # the real sender, to the test's SMTP server
    now = progress(head, case_id)
    assert now["state"] == "done" and not now["going"] and now["finished_at"]
    assert now["headline"].startswith(f"Finished: 48 of {DEMO_PARENTS} sent (the last on ")
    assert now["headline"].endswith(", 2 failed")


def test_the_case_page_carries_the_block_and_its_script(
    signed_in: Callable[[str], TestClient], configured: Settings
) -> None:
    url = configured.database_url
    case_id = make_case(url)
    head = signed_in(HEAD)
    approve_letter(url, case_id)
    page = head.get(f"/cases/{case_id}").text
    assert f'data-letter-progress="/cases/{case_id}/letter-progress"' in page
    assert '<script type="module" src="/static/letter-progress.js"></script>' in page
    assert 'aria-live="polite"' in page


def test_people_who_may_not_see_the_record_are_refused(
    signed_in: Callable[[str], TestClient], configured: Settings
) -> None:
    url = configured.database_url
    case_id = make_case(url)
    approve_letter(url, case_id)
    outsider = signed_in(OUTSIDER)
    assert outsider.get(f"/cases/{case_id}/letter-progress").status_code == 404
    assert outsider.get("/cases/999999/letter-progress").status_code == 404
    reporter = signed_in(REPORTER)
    refused = reporter.get(
        f"/cases/{case_id}/letter-progress", headers={"Accept": "application/json"}
    )
    assert refused.status_code == 403
    assert refused.json()["error"]["status"] == 403
    assert "Preparing" not in refused.text


@SQLITE_ONLY
def test_a_script_that_is_signed_out_is_told_so_in_json(client: TestClient) -> None:
    answer = client.get("/cases/1/letter-progress", headers={"Accept": "application/json"})
    assert answer.status_code == 401 and answer.json()["error"]["status"] == 401


# --- The words, from the figures alone --------------------------------------------------


def words(counts: LetterCounts) -> LetterProgress:
    return progress_of(counts)


def test_the_headline_says_where_the_letter_is() -> None:
    assert words(LetterCounts()).state == "none"
    assert words(LetterCounts(preparing=True)).headline == "Preparing the letters…"
    assert words(LetterCounts(pending=1200)).headline == "Queued: 0 of 1,200 sent"
    assert words(LetterCounts(pending=40, sending=10)).headline == "Sending: 0 of 50 sent"
    assert words(LetterCounts(sent=50, last_sent_at=SIGNED)).headline == (
        "All 50 sent on 7 December 2026, 14:03"
    )
    assert words(LetterCounts(sent=1, last_sent_at=SIGNED)).headline == (
        "The letter was sent on 7 December 2026, 14:03"
    )
    assert words(LetterCounts(by_post=3)).headline == "All 3 letters go by post: none by email."


def test_the_details_explain_failures_paper_and_withdrawal() -> None:
    said = words(LetterCounts(sent=7, failed=1, cancelled=2, by_post=4, printed=1)).details
    assert said[0].startswith("1 letter could not be delivered by email")
    assert "“Emails not delivered”" in said[0]
    assert said[1] == "2 letters were not sent because the case was withdrawn first."
    assert said[2].endswith("1 printed so far.")
    assert words(LetterCounts(preparing=True)).details == []


def test_the_partial_needs_only_the_case_number_and_the_progress() -> None:
    """As the page after the head's approval would include it, with nothing else at hand."""
    going = render(
        "pages/_letter_progress.html",
        case_id=7,
        progress=words(LetterCounts(sent=31, pending=17, failed=2)),
    )
    assert "Sending: 31 of 50 sent, 2 failed" in going
    assert '<progress aria-label="Letters sent by email" max="50" value="31">' in going
    assert 'href="/cases/7#letters">Refresh</a>' in going
    assert "/static/letter-progress.js" in going

    done = render(
        "pages/_letter_progress.html",
        case_id=7,
        progress=words(LetterCounts(sent=50, last_sent_at=SIGNED)),
    )
    assert "All 50 sent on 7 December 2026, 14:03" in done
    assert "Refresh" not in done and "letter-progress.js" not in done, "nothing left to follow"

    preparing = render(
        "pages/_letter_progress.html", case_id=7, progress=words(LetterCounts(preparing=True))
    )
    assert '<progress aria-label="Letters sent by email" max="1">' in preparing, "no value yet"


def test_only_an_approved_letter_shows_on_the_page_after_the_answer(
    configured: Settings,
) -> None:
    url = configured.database_url
    case_id = make_case(url)
    assert progress_after_answer(case_id, StepKey.APPROVE_PARENT_LETTER) is None, "not approved"
    approve_letter(url, case_id)
    shown = progress_after_answer(case_id, StepKey.APPROVE_PARENT_LETTER)
    assert shown is not None and shown.state == "preparing"
    assert progress_after_answer(case_id, StepKey.CLOSE_CASE) is None, "another step's answer"


def delivery_section(**view: Any) -> str:
    """The case page's letter section, rendered from a view with only what it reads."""
    case = SimpleNamespace(
        case=SimpleNamespace(id=7),
        print_files=[],
        letter_change=None,
        rights=frozenset(),
        **view,
    )
    return render("pages/_letter_delivery.html", view=case, csrf_token="")


def test_the_case_page_section_shows_the_view_s_figures() -> None:
    wired = delivery_section(letter_progress=words(LetterCounts(sent=31, pending=19)))
    assert "Sending: 31 of 50 sent" in wired
    assert 'href="/cases/7#letters">Refresh</a>' in wired, "without JavaScript: by hand"
