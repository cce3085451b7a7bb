"""Signing in with a one-time emailed link."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient

from core.settings import Settings
from db.models import OutboxMessage
from mail.catcher import MailStore
from tests.support import count, csrf_of, link_in, mail_to, second_factor


def ask_for_link(client: TestClient, email: str) -> str:
    page = client.get("/signin")
    answer = client.post(
        "/signin", data={"email": email, "next": "/cases/1", "csrf_token": csrf_of(page.text)}
    )
    assert answer.status_code == 200
    return answer.text


def test_the_emailed_link_signs_in_once(
    client: TestClient, smtp: tuple[MailStore, int], deliver: Callable[[], int]
) -> None:
    assert "Check your email" in ask_for_link(client, "Head@Oakfield.example")
    deliver()
    link = link_in(mail_to(smtp[0], "head@oakfield.example", "sign in"), "/signin/")
    confirm = client.get(link)
    assert confirm.status_code == 200 and "Sign in to Casework" in confirm.text
    assert client.get("/", follow_redirects=False).status_code == 303, "GET did not sign in"
    done = client.post(
        link.split("?")[0],
        data={"csrf_token": csrf_of(confirm.text), "next": "/cases/1"},
        follow_redirects=False,
    )
    # The headteacher's role needs a second factor: no session until the code is in.
    assert done.status_code == 303 and done.headers["location"] == "/second-factor"
    assert client.get("/", follow_redirects=False).status_code == 303
    done = second_factor(client, "head@oakfield.example", client.get("/second-factor"))
    assert done.status_code == 303 and done.headers["location"] == "/cases/1"
    assert "Helen Okafor" in client.get("/").text
    reused = client.get(link)
    assert reused.status_code == 410 and "has expired or has been used" in reused.text


def test_unknown_addresses_get_the_same_answer_and_no_email(
    client: TestClient, configured: Settings
) -> None:
    assert "Check your email" in ask_for_link(client, "stranger@elsewhere.example")
    assert "Check your email" in ask_for_link(client, "parent01@families.example")
    assert count(configured.database_url, OutboxMessage) == 0


def test_known_and_unknown_addresses_get_the_same_page(
    client: TestClient, configured: Settings
) -> None:
    known = ask_for_link(client, "dsl@oakfield.example")
    unknown = ask_for_link(client, "nobody@oakfield.example")
    assert known.replace("dsl@", "X@") == unknown.replace("nobody@", "X@")
    assert count(configured.database_url, OutboxMessage) == 1


def test_signing_out_ends_the_session(signed_in: Callable[[str], TestClient]) -> None:
    client = signed_in("dsl@oakfield.example")
    home = client.get("/")
    assert "Daniel Price" in home.text
    kept = dict(client.cookies)  # what someone who copied the cookie would still have
    assert kept.get("cw_session")
    client.post("/signout", data={"csrf_token": csrf_of(home.text)})
    assert client.get("/", follow_redirects=False).status_code == 303

    # The browser forgets the cookie; the server must also refuse it if it comes back.
    client.cookies.clear()
    client.cookies.update(kept)
    replayed = client.get("/", follow_redirects=False)
    assert replayed.status_code == 303 and replayed.headers["location"].startswith("/signin")
    assert "Daniel Price" not in client.get("/").text


def test_redirects_after_sign_in_stay_on_this_site(client: TestClient) -> None:
    page = client.get("/signin?next=//evil.example/steal")
    assert 'name="next" value="/"' in page.text
