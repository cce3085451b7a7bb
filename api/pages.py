"""Rendering pages with what the base layout needs, documents and downloads."""

from __future__ import annotations

import re
import unicodedata
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from core.access import actions_at_school
from core.pdf import render_pdf
from core.settings import get_settings
from core.templating import render

# A file sent to be saved: no script may run in it, whatever it holds.
DOWNLOAD_CSP = "default-src 'none'; sandbox"
# Letters and packs shown as pages carry their own inline styles (the same HTML is emailed and
# printed); they run no script, post nothing and load nothing from elsewhere.
DOCUMENT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'none'; sandbox"
)
NOT_IN_FALLBACK = re.compile(r"[^A-Za-z0-9._()+ -]+")


def render_page(
    request: Request, template: str, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """Render `template` with the signed-in user, their school, what they may do, dev flag and
    CSRF token."""
    visitor = getattr(request.state, "visitor", None)
    html = render(
        template,
        current_user=visitor.person if visitor else None,
        school_name=visitor.school_name if visitor else "Casework",
        current_school_id=visitor.school_id if visitor else None,
        my_schools=visitor.schools if visitor else [],
        can={a.name for a in actions_at_school(visitor.actor.role)} if visitor else set(),
        dev_mode=get_settings().dev_mode,
        hide_page_url=get_settings().hide_page_url,
        csrf_token=getattr(request.state, "csrf_token", ""),
        **context,
    )
    return HTMLResponse(html, status_code=status_code)


def attachment(
    data: bytes, media_type: str, filename: str, fingerprint: tuple[str, str]
) -> Response:
    """A file to download, never to render: its name, and its SHA-256 in a header."""
    header, sha256 = fingerprint
    return Response(
        data,
        media_type=media_type,
        headers={
            "Content-Disposition": content_disposition(filename),
            header: sha256,
            "Content-Security-Policy": DOWNLOAD_CSP,
        },
    )


def document(html: str, as_pdf: bool, filename: str) -> Response:
    """A letter or pack as a web page or, for printing and sending, as a PDF download."""
    if not as_pdf:
        return HTMLResponse(html, headers={"Content-Security-Policy": DOCUMENT_CSP})
    return Response(
        render_pdf(html),
        media_type="application/pdf",
        headers={
            "Content-Disposition": content_disposition(filename),
            "Content-Security-Policy": DOWNLOAD_CSP,
        },
    )


def content_disposition(filename: str) -> str:
    """`attachment` with the file's real name (RFC 6266) and a plain-ASCII name for old clients.

    Any name works, in any script: the UTF-8 name is percent-encoded in `filename*`, and the
    fallback keeps only characters that are safe inside quotes.
    """
    # No control characters, and no folder separators (no file's own name has them).
    name = "".join(ch for ch in filename if unicodedata.category(ch)[0] != "C")
    name = name.replace("/", "_").replace("\\", "_").strip() or "download"
    return (
        f"attachment; filename=\"{ascii_fallback(name)}\"; filename*=UTF-8''{quote(name, safe='')}"
    )


def ascii_fallback(name: str) -> str:
    """`Zdjęcie 1.png` -> `Zdjecie 1.png`; letters with no ASCII form become `_`."""
    kept = "".join(
        ch for ch in unicodedata.normalize("NFKD", name) if not unicodedata.combining(ch)
    )
    plain = NOT_IN_FALLBACK.sub("_", kept).strip(" _")
    stem, dot, suffix = plain.rpartition(".")
    if not dot:
        stem, suffix = plain, ""
    if not stem.strip(" ._"):
        stem = "download"
    return f"{stem}{dot}{suffix}"
