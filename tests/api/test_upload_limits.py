"""Uploads over a limit are stopped while they arrive, answered with 413, and nothing is kept.

These send real streamed (chunked) bodies to the app served by uvicorn, the way a slow
browser or a script would: no Content-Length, the bytes arriving piece by piece.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from core.settings import Settings, get_settings
from db.models import AuditEvent, Case, Evidence, Person, Role
from mail.catcher import MailStore
from tests.support import PNG, SQLITE_ONLY, count, csrf_of, report_fields, signin

pytestmark = SQLITE_ONLY

STAFF = "amy.fletcher@oakfield.example"
BOUNDARY = "casework-streamed-upload"
CHUNK = b"0" * 65_536
MB = 1024 * 1024


class Stream:
    """A multipart report whose one file is `file_bytes` long, counting what was sent."""

    def __init__(self, fields: dict[str, str], filename: str, file_bytes: int) -> None:
        self.fields, self.filename, self.file_bytes = fields, filename, file_bytes
        self.sent = 0

    def __iter__(self) -> Iterator[bytes]:
        for name, value in self.fields.items():
            yield self.count(
                f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                f"{value}\r\n".encode()
            )
        yield self.count(
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="evidence"; '
            f'filename="{self.filename}"\r\nContent-Type: image/png\r\n\r\n'.encode()
            + PNG
        )
        left = self.file_bytes - len(PNG)
        while left > 0:
            yield self.count(CHUNK[:left])
            left -= len(CHUNK)
        yield self.count(f"\r\n--{BOUNDARY}--\r\n".encode())

    def count(self, piece: bytes) -> bytes:
        self.sent += len(piece)
        return piece


@pytest.fixture
def browser(
    live_server: str, smtp: tuple[MailStore, int], configured: Settings
) -> Iterator[httpx.Client]:
    """A signed-in member of staff talking to the live server."""
    from mail.sender import deliver_due

    with httpx.Client(base_url=live_server, timeout=60) as client:
        signin(client, STAFF, smtp[0], lambda: asyncio.run(deliver_due(get_settings())))
        yield client


def send(client: httpx.Client, stream: Stream) -> httpx.Response:
    return client.post(
        "/report/pupil_contact",
        content=iter(stream),
        headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
    )


def report_stream(client: httpx.Client, filename: str, file_bytes: int) -> Stream:
    page = client.get("/report/pupil_contact")
    return Stream({**report_fields(), "csrf_token": csrf_of(page.text)}, filename, file_bytes)


def nothing_kept(settings: Settings) -> None:
    url = settings.database_url
    assert (count(url, Case), count(url, Evidence)) == (0, 0)
    assert count(url, AuditEvent, AuditEvent.case_id.is_not(None)) == 0
    stored = list(settings.evidence_dir.glob("*")) if settings.evidence_dir.exists() else []
    assert stored == []


def test_a_file_over_the_file_limit_is_refused_as_soon_as_it_passes_it(
    browser: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CASEWORK_MAX_FILE_BYTES", str(MB))
    get_settings.cache_clear()
    stream = report_stream(browser, "Снимок экрана.png", 40 * MB)
    answer = send(browser, stream)
    assert answer.status_code == 413
    assert "Снимок экрана.png is larger than 1 MB" in answer.text
    assert "Nothing was saved" in answer.text
    assert stream.sent < 20 * MB, f"the server read on: {stream.sent:,} bytes were sent"
    nothing_kept(get_settings())
    assert browser.get("/report/pupil_contact").status_code == 200, "the next request works"


def test_a_chunked_upload_over_the_request_limit_gets_413_and_the_plain_page(
    browser: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CASEWORK_MAX_REQUEST_BYTES", str(200 * 1024))
    get_settings.cache_clear()
    stream = report_stream(browser, "chat.png", 2 * MB)
    answer = send(browser, stream)
    assert "content-length" not in answer.request.headers
    assert answer.status_code == 413, answer.text
    assert "The upload is too large" in answer.text
    assert "Everything sent together must be under 200 KB. Nothing was saved." in answer.text
    nothing_kept(get_settings())


def test_a_parent_list_over_the_file_limit_is_refused_with_413(
    live_server: str,
    browser: httpx.Client,
    configured: Settings,
    smtp: tuple[MailStore, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mail.sender import deliver_due

    browser.cookies.clear()
    signin(
        browser, "head@oakfield.example", smtp[0], lambda: asyncio.run(deliver_due(get_settings()))
    )
    monkeypatch.setenv("CASEWORK_MAX_FILE_BYTES", str(MB))
    get_settings.cache_clear()
    parents = count(configured.database_url, Person, Person.role == Role.PARENT)
    page = browser.get("/admin/parents")
    rows = b"".join(
        b"Parent %d,carer%d@mis.example,Year 3,email,\r\n" % (n, n) for n in range(40_000)
    )
    answer = browser.post(
        "/admin/parents",
        data={"csrf_token": csrf_of(page.text)},
        files=[
            (
                "file",
                (
                    "parents.csv",
                    b"Name,Email,Year groups,Preferred contact,Address\r\n" + rows,
                    "text/csv",
                ),
            )
        ],
    )
    assert answer.status_code == 413
    assert "parents.csv is larger than 1 MB" in answer.text
    assert count(configured.database_url, Person, Person.role == Role.PARENT) == parents
