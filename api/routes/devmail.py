"""Dev-only pages showing what the devmail catcher received (mounted only in dev mode)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup, escape

from api.pages import render_page
from api.security import content_security_policy
from core.settings import get_settings
from mail.catcher import MailStore, split_urls

router = APIRouter()

# Without a base target, a link in the sandboxed frame would load inside the frame, where our
# own pages may refuse to be framed; _top makes a click open it in the whole tab instead.
_FRAME_BASE = '<base target="_top">'


def _store() -> MailStore:
    return MailStore(get_settings().devmail_dir)


def linkify(text: str) -> Markup:
    """Escape plain text and turn its http(s) URLs into links."""
    # Each piece is escaped on its own, so a URL can never break out of its href attribute.
    return Markup("").join(
        Markup('<a href="{0}">{0}</a>').format(piece) if is_url else escape(piece)
        for piece, is_url in split_urls(text)
    )


@router.get("/dev/mail", response_class=HTMLResponse)
def mail_list(request: Request) -> HTMLResponse:
    """Every caught message, newest first."""
    mails = list(reversed(_store().all()))
    return render_page(request, "pages/devmail_list.html", mails=mails)


@router.get("/dev/mail/{mail_id}", response_class=HTMLResponse)
def mail_message(request: Request, mail_id: str) -> HTMLResponse:
    """One caught message: headers, envelope, the HTML part framed and the text part."""
    mail = _store().get(mail_id)
    if mail is None:
        raise HTTPException(404, "That message is not in the mail catcher.")
    page = render_page(
        request,
        "pages/devmail_message.html",
        mail=mail,
        html_srcdoc=_FRAME_BASE + mail.html if mail.html else "",
        text_html=linkify(mail.text),
    )
    # The framed email inherits this page's policy, and emails style themselves inline.
    page.headers["Content-Security-Policy"] = content_security_policy(
        style_src="'self' 'unsafe-inline'"
    )
    return page
