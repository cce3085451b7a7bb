"""Files download under the names they were uploaded with, in any alphabet."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import unquote

import pytest
from fastapi.testclient import TestClient

from tests.support import PDF, PNG, case_path_of, submit_report

STAFF = "amy.fletcher@oakfield.example"
NAMES = [
    "Снимок экрана 2025-11-20.png",
    "Zrzut ekranu – zażółć gęślą jaźń.png",
    "スクリーンショット 2025-11-20 18.30.png",
    "O'Brien's notes (final) – Łódź.pdf",
]


def saved_as(disposition: str) -> tuple[str, str]:
    """The plain `filename` and the decoded `filename*` of a Content-Disposition header."""
    plain = re.search(r'filename="([^"]*)"', disposition)
    encoded = re.search(r"filename\*=UTF-8''([^;\s]+)", disposition)
    assert plain and encoded, disposition
    return plain.group(1), unquote(encoded.group(1), encoding="utf-8", errors="strict")


@pytest.mark.parametrize("name", NAMES)
def test_evidence_downloads_with_the_name_it_was_uploaded_with(
    signed_in: Callable[[str], TestClient], name: str
) -> None:
    client = signed_in(STAFF)
    body, kind = (PDF, "application/pdf") if name.endswith(".pdf") else (PNG, "image/png")
    opened = submit_report(client, [(name, body, kind)])
    assert opened.status_code == 303, opened.text
    case_path = case_path_of(opened)
    evidence = client.get(f"/api{case_path}").json()["evidence"]
    assert [e["filename"] for e in evidence] == [name]

    for who in (STAFF, "head@oakfield.example", "auditor@oakfield.example"):
        client.cookies.clear()
        download = signed_in(who).get(f"{case_path}/evidence/{evidence[0]['id']}")
        assert download.status_code == 200, f"{who}: {download.text}"
        assert download.content == body
        disposition = download.headers["content-disposition"]
        assert disposition.startswith("attachment;")
        fallback, real = saved_as(disposition)
        assert real == name, "the browser saves the file under its real name"
        assert fallback.isascii() and fallback.endswith(name[-4:]), fallback
        assert '"' not in fallback and "\\" not in fallback
