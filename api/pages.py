"""Rendering pages with what the base layout needs."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from core.settings import get_settings
from core.templating import render


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
            "Content-Security-Policy": "default-src 'none'; sandbox",
        },
    )
