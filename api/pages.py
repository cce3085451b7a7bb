"""Rendering pages with what the base layout needs."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from core.access import actions_at_school
from core.settings import get_settings
from core.templating import render


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
            "Content-Disposition": f'attachment; filename="{filename}"',
            header: sha256,
            "Content-Security-Policy": "default-src 'none'; sandbox",
        },
    )
