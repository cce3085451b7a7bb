"""PDFs from HTML: one page per document, and nothing fetched from outside the document."""

from __future__ import annotations

import io
from pathlib import Path

from pypdf import PdfReader

from core.pdf import render_book, render_pdf, render_pdf_pages


def pages_of(data: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]


def test_one_document_makes_a_pdf() -> None:
    data = render_pdf("<html><body><h1>Invitation to a meeting</h1></body></html>")
    assert data.startswith(b"%PDF")
    assert pages_of(data) == ["Invitation to a meeting"]


def test_each_document_starts_on_a_new_page() -> None:
    documents = [f"<p>Letter {n}</p>" for n in range(1, 4)]
    assert [text.strip() for text in pages_of(render_pdf_pages(documents))] == [
        "Letter 1",
        "Letter 2",
        "Letter 3",
    ]
    long = "<p>" + "<br>".join(["line"] * 120) + "</p>"
    book = render_book(["<p>short</p>", long, "<p>after</p>"])
    first, long_start, last = book.first_pages
    assert (first, long_start) == (1, 2) and last > 3, "the long one takes several pages"
    assert book.total_pages == last


def test_local_files_are_never_read_into_a_document(tmp_path: Path) -> None:
    hide = tmp_path / "hide.css"
    hide.write_text("p { display: none }")
    data = render_pdf(f'<link rel="stylesheet" href="{hide.as_uri()}"><p>Still visible</p>')
    assert "Still visible" in pages_of(data)[0]
