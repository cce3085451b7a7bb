"""PDFs from HTML with WeasyPrint, and the folder where Casework keeps the ones it makes.

Letters to parents who asked for post use it today; meeting invitations and referral
packs can call `render_pdf` or `render_pdf_pages` the same way.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from casework.settings import get_settings

if TYPE_CHECKING:
    from weasyprint import Document
    from weasyprint.document import Page

# Only inline (data:) resources: a document must never make the renderer read local
# files or reach the network, whatever a template or a stored value contains.
ALLOWED_PROTOCOLS = ("data",)


def _document(html: str) -> Document:
    # Imported here: loading WeasyPrint takes a while and only PDF makers need it.
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    fetcher = URLFetcher(allowed_protocols=ALLOWED_PROTOCOLS)
    return HTML(string=html, url_fetcher=fetcher, media_type="print").render()


def render_pdf(html: str) -> bytes:
    """One HTML document as a PDF."""
    return render_pdf_pages([html])


def render_pdf_pages(documents: Sequence[str]) -> bytes:
    """Several HTML documents in one PDF, each starting on a new page."""
    return render_book(documents).data


@dataclass(frozen=True)
class Book:
    """A combined PDF and the page each of its documents starts on (from 1)."""

    data: bytes
    first_pages: list[int]
    total_pages: int


def render_book(documents: Sequence[str]) -> Book:
    """Like `render_pdf_pages`, also saying where each document starts."""
    if not documents:
        raise ValueError("there is nothing to put in the PDF")
    rendered = [_document(html) for html in documents]
    first_pages: list[int] = []
    pages: list[Page] = []
    for doc in rendered:
        first_pages.append(len(pages) + 1)
        pages.extend(doc.pages)
    data = bytes(rendered[0].copy(pages).write_pdf())
    return Book(data, first_pages, len(pages))


@dataclass(frozen=True)
class StoredPdf:
    stored_name: str
    sha256: str
    size: int


def pdf_dir() -> Path:
    return get_settings().var_dir / "letters"


def stored_pdf_path(stored_name: str) -> Path:
    if not stored_name.isalnum():
        raise ValueError("not a stored PDF name")
    return pdf_dir() / stored_name


def store_pdf(data: bytes) -> StoredPdf:
    """Write `data` under a new random name, outside any served folder."""
    directory = pdf_dir()
    directory.mkdir(parents=True, exist_ok=True)
    name = uuid.uuid4().hex
    tmp = directory / f".{name}.part"
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, directory / name)
    os.chmod(directory / name, 0o440)
    return StoredPdf(name, hashlib.sha256(data).hexdigest(), len(data))


def discard_pdf(stored_name: str) -> None:
    """Remove a file whose database row never committed."""
    stored_pdf_path(stored_name).unlink(missing_ok=True)
