"""The search page, the case list's filters and pages, and linked cases, as people use them:
signed in for real, reports sent through the real form, emails through a real SMTP server."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api import views
from api.views import HISTORY_SHOWN
from casework.handoff import announce_new_cases
from core.enums import AuditKind
from core.settings import Settings
from db.audit import record_event
from db.cases import get_case
from db.models import AuditEvent
from db.session import transaction
from mail.catcher import MailStore
from services.history import HISTORY_KINDS
from tests.search_world import build
from tests.support import PNG, case_id_of, delivered, submit_report

HEAD = "head@oakfield.example"
DSL = "dsl@oakfield.example"
TOM = "tom.byrne@oakfield.example"
SARA = "sara.novak@oakfield.example"


def references(url: str, ids: dict[str, int]) -> dict[str, str]:
    with transaction(url) as session:
        return {name: get_case(session, case_id).reference for name, case_id in ids.items()}


def as_person(signed_in: Callable[[str], TestClient], client: TestClient, email: str) -> TestClient:
    client.cookies.clear()
    return signed_in(email)


NASTY = [
    '"',
    '"unclosed phrase',
    "*",
    "jay*",
    "NEAR(jordan miles, 2)",
    "jordan AND NOT miles",
    "pupil_account:jay",
    "^jordan",
    "-jordan +miles",
    "(((",
    "'; DROP TABLE cases; --",
    "\x00jordan",
    "\x00",
    "Zoë Ólafsdóttir 北京 😀",
    "😀",
    "a",
    "x" * 10_000,
    "\u202ejordan",
    "jordan\r\nmiles",
    "%",
    "_",
    "\\",
]


def odd_searches_get_a_message_never_a_server_error(head: TestClient) -> None:
    for typed in NASTY:
        page = head.get("/search", params={"q": typed})
        assert page.status_code in (200, 400), (typed[:30], page.status_code)
        if page.status_code == 400:
            assert "That search cannot be run" in page.text, typed[:30]
    answers = {
        typed: head.get("/search", params={"q": typed}) for typed in ("*", "a", "x" * 10_000)
    }
    assert "Symbols on their own cannot be searched for" in answers["*"].text
    assert "Type at least 2 letters or numbers" in answers["a"].text
    assert "10,000 characters long" in answers["x" * 10_000].text
    assert "x" * 201 not in answers["x" * 10_000].text, "the box keeps what fits, not all of it"
    # Broken UTF-8 in the address is read as replacement characters, not an error.
    assert head.get("/search?q=%ED%A0%80%FF").status_code == 400
    empty = head.get("/search", params={"q": "   "})
    assert empty.status_code == 200 and "What are you looking for?" in empty.text


def test_search_and_the_case_list_show_only_cases_the_person_may_open(
    configured: Settings, client: TestClient, signed_in: Callable[[str], TestClient]
) -> None:
    world = build(configured.database_url)
    ref = references(configured.database_url, world.cases)
    head = signed_in(HEAD)
    assert 'action="/search"' in head.get("/").text, "the search box is in the header"
    page = head.get("/search", params={"q": "Jordan"})
    assert page.status_code == 200
    assert ref["tom's pupil"] in page.text and ref["dsl's on x"] in page.text
    assert ref["elmbridge"] not in page.text, "another school's case is never found"
    assert "<mark>Jordan</mark>" in page.text and "A pupil contacted a member of staff" in page.text
    assert "2 cases found" in page.text
    odd_searches_get_a_message_never_a_server_error(head)

    # The case list beside it: filtered and paged in the query.
    listed = head.get("/", params={"type": "online_abuse"})
    assert ref["sara's abuse"] in listed.text and ref["tom's pupil"] not in listed.text
    assert head.get("/", params={"status": "closed"}).text.count("No cases you can see match") == 1
    for bad in ({"status": "deleted"}, {"type": "x"}, {"page": "0"}, {"page": "9" * 30}):
        answer = head.get("/", params=bad)
        assert answer.status_code == 400, bad
    assert "cannot be filtered that way" in head.get("/", params={"type": "x"}).text
    far = head.get("/", params={"page": "7"})
    assert far.status_code == 200 and "There are no cases on this page" in far.text

    # A long-running case's page shows its newest events; the export has them all.
    busy = world.cases["words only"]
    with transaction(configured.database_url) as session:
        told = select(AuditEvent).where(
            AuditEvent.case_id == busy, AuditEvent.kind.in_(HISTORY_KINDS)
        )
        had = len(session.scalars(told).all())
        for n in range(HISTORY_SHOWN + 5):
            change = {"label": f"Answer {n}", "before": "a", "after": "b"}
            record_event(session, case_id=busy, kind=AuditKind.CASE_CORRECTED, data=change)
    page = head.get(f"/cases/{busy}").text
    assert f"The latest {HISTORY_SHOWN} of {had + HISTORY_SHOWN + 5} are shown" in page
    assert f"corrected answer {HISTORY_SHOWN + 4} from" in page
    assert "corrected answer 4 from" not in page, "the oldest are left to the full trail"

    tom = as_person(signed_in, client, TOM)
    page = tom.get("/search", params={"q": "Jordan"})
    assert ref["tom's pupil"] in page.text and ref["dsl's on x"] not in page.text
    page = tom.get("/search", params={"q": "Amy Fletcher"})
    assert "No case you can open matches" in page.text, "not by who his report is about"

    governor = as_person(signed_in, client, "governor@oakfield.example")
    assert governor.get("/search", params={"q": "Jordan"}).status_code == 403
    assert 'action="/search"' not in governor.get("/").text


def test_a_search_many_cases_match_shows_the_newest_and_says_so(
    configured: Settings,
    signed_in: Callable[[str], TestClient],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = build(configured.database_url)
    ref = references(configured.database_url, world.cases)
    head = signed_in(HEAD)
    # Four of the head's cases name @jay_k; pages of two, to see what is left off.
    monkeypatch.setattr(views, "SEARCH_RESULTS", 2)
    page = head.get("/search", params={"q": "@jay_k"}).text
    assert "4 cases found. The 2 best matches are shown, best first" in page
    assert ref["words only"] not in page, "the case naming it only in words ranks last"

    monkeypatch.setattr(views, "SEARCH_RANKED", 3)
    page = head.get("/search", params={"q": "@jay_k"}).text
    assert "More than 3 cases match. The 2 newest are shown, newest first" in page
    assert page.index(ref["words only"]) < page.index(ref["dsl's on x"])
    assert ref["tom's pupil"] not in page and ref["sara's abuse"] not in page


def new_case(client: TestClient, account: str, pupil: str) -> int:
    sent = submit_report(
        client, [("contact.png", PNG, "image/png")], pupil_account=account, pupil_name=pupil
    )
    assert sent.status_code == 303, sent.text
    return case_id_of(sent)


def linked_section(page: str) -> str:
    start = page.find("Other cases naming the same account")
    return page[start : page.index('id="evidence"')] if start >= 0 else ""


def test_cases_naming_one_account_are_linked_for_those_who_may_see_them(
    configured: Settings,
    client: TestClient,
    signed_in: Callable[[str], TestClient],
    smtp: tuple[MailStore, int],
    deliver: Callable[[], int],
) -> None:
    store = smtp[0]
    url = configured.database_url

    def worker_mail() -> int:
        """What the worker does: the head is told of new cases, then the mail goes."""
        announce_new_cases()
        return deliver()

    tom = signed_in(TOM)
    first = new_case(tom, "@Jay_K", "Jordan Miles")
    opened = delivered(store, HEAD, "New case", worker_mail)
    assert "reported before" not in opened.text

    sara = as_person(signed_in, client, SARA)
    since = len(store.ids())
    second = new_case(sara, "https://www.instagram.com/jay_k/?igsh=MWd3c2N5", "Riley Moss")
    ref = references(url, {"first": first, "second": second})
    for reader in (HEAD, DSL):  # the head, and the DSL who leads the case
        mail = delivered(store, reader, ref["second"], worker_mail, since)
        line = next(p for p in mail.text.split("\n\n") if "reported before" in p)
        assert "1 earlier case you can see in Casework names it too" in line
        # Content-free: a count and the case's own link, never the account or anyone's name.
        for private in ("jay", "Jordan", "Riley", "instagram", ref["first"]):
            assert private.lower() not in mail.text.lower() and private not in mail.html
        assert mail.links == [f"http://testserver/cases/{second}"]
    # Sara reported the second case but may not see Tom's: nothing links for her.
    assert linked_section(sara.get(f"/cases/{second}").text) == ""

    tom = as_person(signed_in, client, TOM)
    since = len(store.ids())
    third = new_case(tom, "m.instagram.com/JAY_K", "Jordan Miles")
    page = linked_section(tom.get(f"/cases/{third}").text)
    assert "1 earlier case mentions @jay_k" in page, "only the case Tom may see is counted"
    assert f'href="/cases/{first}"' in page and f'href="/cases/{second}"' not in page

    head = as_person(signed_in, client, HEAD)
    mail = delivered(store, HEAD, "New case", worker_mail, since)
    assert "2 earlier cases you can see in Casework name it too" in mail.text
    page = linked_section(head.get(f"/cases/{third}").text)
    assert "2 earlier cases mention @jay_k" in page
    assert f'href="/cases/{first}"' in page and f'href="/cases/{second}"' in page
    page = linked_section(head.get(f"/cases/{first}").text)
    assert "2 later cases mention @jay_k" in page
