"""Every route of the app, asked by every kind of person, answers as core/access.py says.

The routes come from the app itself: one that the matrix (tests/access_matrix.py) does not
list, and the exemptions there do not explain, fails the test, so a new route cannot go
without an access rule. For each route the matrix says how to fill its address from the
world (tests/access_world.py), what form to post, and which rule of the policy decides it;
the answer each person should get is worked out from the policy, so a route wired to the
wrong rule fails. A hand-written table of the policy's promises checks the policy itself.

Each person signs in for real (the emailed link, and the authenticator code where their
role needs one) from a browser of their own, then asks every route from it. Pages must
answer 200 to those allowed and 403 or 404, exactly as the policy says, to the rest. Forms
are posted with the browser's CSRF token: those allowed must not be refused; what they get
depends on the form (a note is added, a print file marked printed, settings put back to
Casework's). Forms that would change who holds what (withdraw, reopen, correct, a new lead,
a request passed on, a person disabled, an answer to a request) go without their reason or
answer, so the app turns them away with 400 and nothing changes for the people asked after.
Signed out, every page sends the visitor to sign in and every form is refused, except the
pages an emailed link opens: the link's token is what lets its holder in.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import ASGITransport, AsyncClient, Cookies

from api.app import create_app
from core.settings import Settings, get_settings
from db.models import Case
from db.session import transaction
from mail.catcher import MailStore
from tests.access_matrix import (
    EXEMPT,
    OK,
    REFUSED,
    Ask,
    answered,
    app_routes,
    matrix,
    signed_out,
)
from tests.access_world import (
    CHAIR,
    COUNCIL_HR,
    DEPUTY_DSL,
    DSL,
    HEAD,
    HR,
    OTHER_ADMIN,
    OTHER_HEAD,
    OTHER_STAFF,
    REPORTER,
    SUBJECT,
    actor_for,
    build,
    placeholder,
)
from tests.support import PNG, csrf_of, signin

BASE = "http://testserver"
Deliver = Callable[[], int]


def test_every_route_of_the_app_has_an_access_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    """A route added without a row in the matrix (or a reason to be exempt) fails here."""
    monkeypatch.setenv("CASEWORK_DEV_MODE", "true")  # the dev-only routes too
    get_settings.cache_clear()
    try:
        routes = app_routes(create_app())
    finally:
        get_settings.cache_clear()
    listed = set(matrix(placeholder()))
    assert not listed & set(EXEMPT), "a route is both in the matrix and exempt"
    assert sorted(routes - listed - set(EXEMPT)) == [], "routes with no access rule"
    assert sorted((listed | set(EXEMPT)) - routes) == [], "rows for routes the app lacks"
    assert len(routes) >= 60


# --- Who asks ------------------------------------------------------------------------------

PERSONAS: dict[str, str | None] = {
    "headteacher": HEAD,
    "deputy head": "deputy@oakfield.example",
    "DSL": DSL,
    "deputy DSL": DEPUTY_DSL,
    "HR": HR,
    "HR serving from another school": COUNCIL_HR,
    "auditor": "auditor@oakfield.example",
    "the reporter": REPORTER,
    "Amy (subject of two cases)": SUBJECT,
    "other staff": OTHER_STAFF,
    "chair of governors": CHAIR,
    "governor": "governor@oakfield.example",
    "admin": "admin@oakfield.example",
    "another school's head": OTHER_HEAD,
    "another school's admin": OTHER_ADMIN,
    "signed out": None,
}

# What the policy promises, written out by hand: for the cases about Amy, about Amy once
# escalated to HR, and about the headteacher, whether the person sees the case and whether
# they see its full record (the HR pack).
NO, REPORT, ALL = (False, False), (True, False), (True, True)
PROMISES = {
    "headteacher": (ALL, ALL, NO),
    "deputy head": (ALL, ALL, ALL),
    "DSL": (ALL, ALL, ALL),
    "deputy DSL": (ALL, ALL, ALL),
    "HR": (NO, ALL, NO),
    "HR serving from another school": (NO, ALL, NO),
    "auditor": (ALL, ALL, ALL),
    "the reporter": (REPORT, REPORT, REPORT),
    "Amy (subject of two cases)": (NO, NO, NO),
    "other staff": (NO, NO, NO),
    "chair of governors": (NO, NO, ALL),
    "governor": (NO, NO, NO),
    "admin": (NO, NO, NO),
    "another school's head": (NO, NO, NO),
    "another school's admin": (NO, NO, NO),
    "signed out": (NO, NO, NO),
}


def address(number: int) -> tuple[str, int]:
    """Each person's browser has its own address: rate limits count per address."""
    return f"192.0.2.{number}", 50000


def sign_in(
    app: FastAPI, number: int, email: str | None, smtp: MailStore, deliver: Deliver
) -> Cookies:
    """The cookies of a browser that has signed in (or, for None, only opened sign-in)."""
    with TestClient(app, base_url=BASE, client=address(number)) as client:
        if email is None:
            client.get("/signin")
        else:
            signin(client, email, smtp, deliver)
        return client.cookies


async def ask_all(
    app: FastAPI, number: int, cookies: Cookies, asks: list[Ask], first: str
) -> dict[tuple[str, str], str]:
    """Every question of the matrix from one person's browser, and what they got."""
    transport = ASGITransport(app=app, client=address(number), raise_app_exceptions=False)
    async with AsyncClient(transport=transport, base_url=BASE, cookies=cookies) as client:
        # A page with a form, so with the CSRF token (governors are sent on to the dashboard).
        page = await client.get(first, follow_redirects=True)
        assert page.status_code == 200, page.text
        token = csrf_of(page.text)
        got = {}
        for q in asks:
            if q.method == "GET":
                response = await client.get(q.path)
            else:
                files = [("evidence", ("late.png", PNG, "image/png"))] if q.upload else None
                data = {**q.form, "csrf_token": token}
                response = await client.post(q.path, data=data, files=files)
            got[(q.method, q.path)] = answered(q, response)
        return got


# On SQLite alone: the matrix asks about a thousand questions of each person, and what it
# checks is the app's wiring of each route to its rule. The rules that run as SQL (the case
# list and search filter, db/visibility.py) are checked on both databases for every person
# by tests/db/test_case_visibility.py.
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_every_route_answers_every_person_as_the_policy_says(
    configured: Settings, smtp: tuple[MailStore, int], deliver: Deliver
) -> None:
    url = configured.database_url
    world = build(url)
    table = matrix(world)
    asks = [question for questions in table.values() for question in questions]
    assert len({(q.method, q.path) for q in asks}) == len(asks), "each request asked once"
    app = create_app()
    assert app_routes(app) - set(EXEMPT) == set(table)

    wanted: dict[str, dict[tuple[str, str], str]] = {}
    seen: dict[str, dict[tuple[str, str], str]] = {}
    for number, (persona, email) in enumerate(PERSONAS.items(), start=1):
        cookies = sign_in(app, number, email, smtp[0], deliver)
        if email is None:
            wanted[persona] = {(q.method, q.path): signed_out(q) for q in asks}
        else:
            actor = actor_for(url, email)
            wanted[persona] = {(q.method, q.path): q.rule(actor) for q in asks}
        first = "/signin" if email is None else "/"
        seen[persona] = asyncio.run(ask_all(app, number, cookies, asks, first))

    wrong = [
        f"{persona}: {method} {path}: the policy says {want[(method, path)]}, the app: {got}"
        for persona, want in wanted.items()
        for (method, path), got in seen[persona].items()
        if got != want[(method, path)]
    ]
    assert wrong == [], "\n".join(wrong)

    for persona, promised in PROMISES.items():
        for case, (sees, full) in zip(world.open_cases, promised, strict=True):
            page = wanted[persona][("GET", f"/cases/{case.id}")]
            pack = wanted[persona][("GET", f"/cases/{case.id}/packs/hr")]
            assert (page == OK, pack == OK) == (sees, full), (persona, case.name)
    for case in world.open_cases:
        (own, _), (theirs, _) = case.files
        reporter = wanted["the reporter"]
        assert reporter[("GET", f"/cases/{case.id}/evidence/{own}")] == OK, "their own upload"
        assert reporter[("GET", f"/cases/{case.id}/evidence/{theirs}")] == REFUSED


# --- What the requirement promises, seen in the pages ---------------------------------------


def test_the_chair_acts_as_head_on_a_case_about_the_head(
    configured: Settings, signed_in: Callable[[str], TestClient]
) -> None:
    world = build(configured.database_url)
    about_amy, _, about_head = world.open_cases
    case = f"/cases/{about_head.id}"

    chair = signed_in(CHAIR)
    home = chair.get("/").text
    assert f'href="{case}"' in home and f'href="/cases/{about_amy.id}"' not in home
    page = chair.get(case)
    assert page.status_code == 200 and "History" in page.text, "the full record"
    trail = chair.get(f"{case}/audit.json")
    assert trail.status_code == 200 and trail.headers["content-type"] == "application/json"
    assert trail.json()["events"], "the case's events, each with its hash"
    table = chair.get(f"{case}/audit.csv")
    assert table.status_code == 200 and table.headers["content-type"].startswith("text/csv")
    assert table.text.startswith("seq,at,kind,actor,data,prev_hash,hash")
    for pack in ("hr", "police"):
        assert chair.get(f"{case}/packs/{pack}").status_code == 200, pack
    pdf = chair.get(f"{case}/packs/hr.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")

    chair.cookies.clear()
    head = signed_in(HEAD)
    for path in (case, f"{case}/audit.json", f"{case}/audit.csv", f"{case}/packs/hr"):
        assert head.get(path).status_code == 404, path
    assert f'href="{case}"' not in head.get("/").text
    found = head.get("/search", params={"q": "headteacher posted"}).text
    assert f'href="{case}"' not in found and "posted a pupil" not in found


def test_hr_sees_a_case_once_it_is_escalated_at_a_school_they_serve(
    configured: Settings, signed_in: Callable[[str], TestClient]
) -> None:
    world = build(configured.database_url)
    about_amy, escalated, _ = world.open_cases
    for email in (HR, COUNCIL_HR):
        client = signed_in(email)
        if email == COUNCIL_HR:  # their own school first: they look at Oakfield's cases
            token = csrf_of(client.get("/").text)
            switched = client.post(
                "/school/switch", data={"school_id": world.oakfield, "csrf_token": token}
            )
            assert switched.status_code == 200, switched.text
        home = client.get("/").text
        assert f'href="/cases/{escalated.id}"' in home, email
        assert f'href="/cases/{about_amy.id}"' not in home, email
        page = client.get(f"/cases/{escalated.id}")
        assert page.status_code == 200 and "History" in page.text, email
        assert client.get(f"/cases/{about_amy.id}").status_code == 404, email
        client.cookies.clear()


def test_the_reporter_sees_the_report_but_not_the_findings(
    configured: Settings, signed_in: Callable[[str], TestClient]
) -> None:
    world = build(configured.database_url)
    case_id = world.open_cases[0].id
    with transaction(configured.database_url) as session:
        case = session.get(Case, case_id)
        assert case is not None
        case.outcome = "Formal disciplinary process begun."
    page = signed_in(REPORTER).get(f"/cases/{case_id}").text
    assert "A colleague shared pupils" in page, "their own report"
    assert "Formal disciplinary process" not in page, "not the outcome"
    assert "History" not in page and "/packs/hr" not in page
    assert "post.png" in page, "the file they uploaded"
    assert "screenshot.png" not in page, "not the DSL's"


def test_governors_and_admins_never_see_a_case_list(
    configured: Settings, signed_in: Callable[[str], TestClient]
) -> None:
    world = build(configured.database_url)
    for email in ("governor@oakfield.example", "admin@oakfield.example"):
        client = signed_in(email)
        home = client.get("/").text
        for case in world.open_cases:
            assert f"/cases/{case.id}" not in home, email
        if email.startswith("governor"):
            assert "<h1>Dashboard</h1>" in home, "the numbers only"
        client.cookies.clear()
