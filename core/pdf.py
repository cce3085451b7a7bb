"""PDFs from HTML with WeasyPrint: letters to post, meeting invitations, referral packs.

The PDFs Casework keeps are stored by `core.files.letter_files` (letters to post) and
`core.files.pack_files` (case packs, with the HTML they were made from).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from weasyprint import Document
    from weasyprint.document import Page

# Only inline (data:) resources: a document must never make the renderer read local
# files or reach the network, whatever a template or a stored value contains.
ALLOWED_PROTOCOLS = ("data",)


def _document(html: str) -> Document:
    # Imported here: loading WeasyPrint takes a while and only PDF makers need it.
    from PIL import ImageFile

    truncated = ImageFile.LOAD_TRUNCATED_IMAGES
    from weasyprint import HTML
    from weasyprint.urls import URLFetcher

    # Importing WeasyPrint tells Pillow, for the whole process, to decode cut-short pictures;
    # after one PDF the evidence previews (services/previews.py) would then show a damaged
    # upload instead of refusing it. Our documents hold only inline pictures: they lose nothing.
    ImageFile.LOAD_TRUNCATED_IMAGES = truncated

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
