"""Rendering pages with what the base layout needs, documents and downloads."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

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


def render_page(
    request: Request, template: str, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """Render `template` with the signed-in user, school name, dev flag and CSRF token."""
    state = request.state
    html = render(
        template,
        current_user=getattr(state, "user", None),
        school_name=getattr(state, "school_name", "Casework"),
        dev_mode=get_settings().dev_mode,
        csrf_token=getattr(state, "csrf_token", ""),
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
            "Content-Disposition": f'attachment; filename="{filename}"',
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
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Content-Security-Policy": DOWNLOAD_CSP,
        },
    )
