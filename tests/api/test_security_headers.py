"""Every response tells the browser to run only Casework's own files and to stay on HTTPS."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from core.settings import PROJECT_ROOT, Settings, get_settings
from mail.catcher import MailStore
from tests.support import SQLITE_ONLY, csrf_of, make_case, production_app

pytestmark = SQLITE_ONLY

HEAD = "head@oakfield.example"
PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; object-src 'none'; base-uri 'none'; form-action 'self'"
)
KEPT = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "cache-control": "no-store",
}
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)
INLINE_STYLE = re.compile(r"<style\b|\sstyle\s*=", re.IGNORECASE)
HANDLER = re.compile(r"\son[a-z]+\s*=", re.IGNORECASE)


def has_page_headers(headers: httpx.Headers, policy: str = PAGE_POLICY) -> None:
    got = {name: headers.get(name) for name in (*KEPT, "content-security-policy")}
    assert got == {**KEPT, "content-security-policy": policy}


def test_pages_allow_only_casework_s_own_scripts_and_styles(
    signed_in: Callable[[str], TestClient],
) -> None:
    client = signed_in(HEAD)
    for path in ("/", "/report", "/report/online_abuse", "/admin/parents", "/signin", "/nowhere"):
        page = client.get(path)
        assert page.status_code in (200, 404), path
        has_page_headers(page.headers)
        assert "strict-transport-security" not in page.headers, "dev mode runs on plain HTTP"
        for pattern in (INLINE_SCRIPT, INLINE_STYLE, HANDLER):
            assert not pattern.search(page.text), f"{path} has inline code: {pattern.pattern}"
    script = client.get("/static/import-progress.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    has_page_headers(script.headers)


def test_no_page_template_has_inline_scripts_styles_or_handlers() -> None:
    pages = sorted((PROJECT_ROOT / "templates" / "pages").rglob("*.html"))
    assert len(pages) > 20
    for path in pages:
        text = Path(path).read_text()
        for pattern in (INLINE_SCRIPT, INLINE_STYLE, HANDLER):
            assert not pattern.search(text), f"{path.name}: {pattern.pattern}"


def test_the_upload_limit_page_has_the_same_headers(
    signed_in: Callable[[str], TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    client = signed_in(HEAD)
    monkeypatch.setenv("CASEWORK_MAX_REQUEST_BYTES", "1000")
    get_settings.cache_clear()
    answer = client.post("/signout", content=b"x" * 2000)
    assert answer.status_code == 413
    has_page_headers(answer.headers)


def test_outside_dev_mode_browsers_are_told_to_use_https_only(
    configured: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    with TestClient(production_app(monkeypatch), base_url="http://testserver") as production:
        page = production.get("/signin")
    assert page.status_code == 200
    assert page.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"
    has_page_headers(page.headers)


def test_letters_shown_as_pages_keep_their_styles_but_run_nothing(
    signed_in: Callable[[str], TestClient], configured: Settings
) -> None:
    from db.cases import finish_step
    from db.models import IncidentType
    from db.session import transaction

    case_id = make_case(configured.database_url, IncidentType.ONLINE_ABUSE)
    with transaction(configured.database_url) as session:
        finish_step(session, case_id, "invite_to_meeting", outcome="ready to print")
    client = signed_in(HEAD)
    letter = client.get(f"/cases/{case_id}/letters/meeting-invitation")
    assert letter.status_code == 200 and "An invitation to meet" in letter.text
    policy = letter.headers["content-security-policy"]
    assert "style-src 'unsafe-inline'" in policy
    assert policy.startswith("default-src 'none';") and "script-src" not in policy
    assert "sandbox" in policy and "frame-ancestors 'none'" in policy
    pdf = client.get(f"/cases/{case_id}/letters/meeting-invitation.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert pdf.headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert pdf.headers["content-disposition"] == (
        f'attachment; filename="case-{case_id}-meeting-invitation.pdf"; '
        f"filename*=UTF-8''case-{case_id}-meeting-invitation.pdf"
    )


def test_caught_emails_keep_their_inline_styles_in_dev_mail(
    client: TestClient, deliver: Callable[[], int], smtp: tuple[MailStore, int]
) -> None:
    page = client.get("/signin")
    client.post("/signin", data={"email": HEAD, "next": "/", "csrf_token": csrf_of(page.text)})
    deliver()
    message = client.get(f"/dev/mail/{smtp[0].ids()[0]}")
    assert message.status_code == 200 and "<iframe" in message.text
    has_page_headers(
        message.headers, PAGE_POLICY.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
    )
