"""Evidence previews through the web app, on both databases: a phone photo reported with its
GPS comes back upright with no metadata while the original stays byte for byte; files with
no preview answer 404 with a reason, never 500; previews refuse exactly as the download
does; and disposing of a case erases its cached previews."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from datetime import UTC, datetime
from types import SimpleNamespace

from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select

from core.enums import AuditKind, Role
from core.files import evidence_files
from core.settings import Settings
from core.templating import environment
from db.evidence import add_evidence
from db.models import AuditEvent, Person
from db.session import transaction
from services.previews import THUMB_BOX, cache_path, preview_dir
from services.retention import dispose
from tests.pictures import cut_short, png_claiming, sideways_photo
from tests.retention_world import closed_case
from tests.support import PDF, PNG, case_path_of, person, submit_report

STAFF = "amy.fletcher@oakfield.example"
HEAD = "head@oakfield.example"
DSL = "dsl@oakfield.example"
OTHER_STAFF = "tom.byrne@oakfield.example"


def reported(client: TestClient, files: list[tuple[str, bytes, str]]) -> tuple[str, list[int]]:
    """A case reported with these files: its path and its evidence ids, in order."""
    opened = submit_report(client, files)
    assert opened.status_code == 303, opened.text
    case_path = case_path_of(opened)
    evidence = client.get(f"/api{case_path}").json()["evidence"]
    return case_path, [e["id"] for e in evidence]


def added_by(url: str, case_id: int, role: Role, data: bytes) -> tuple[int, str]:
    """An image added straight to the case by the first person with `role`: (id, digest)."""
    with transaction(url) as session:
        uploader = session.get(Person, person(url, role).id)
        assert uploader is not None
        item = add_evidence(
            session,
            case_id,
            uploader,
            evidence_files().save(data),
            filename="screenshot.jpg",
            content_type="image/jpeg",
            source="",
        )
        return item.id, item.sha256


def preview_views(url: str, case_id: int) -> list[dict[str, object]]:
    with transaction(url) as session:
        events = session.scalars(
            select(AuditEvent).where(
                AuditEvent.case_id == case_id, AuditEvent.kind == AuditKind.EVIDENCE_VIEWED
            )
        )
        return [dict(e.data) for e in events if "preview" in e.data]


def test_a_reported_photo_is_previewed_upright_without_metadata_and_the_original_is_kept(
    signed_in: Callable[[str], TestClient], configured: Settings
) -> None:
    photo = sideways_photo()
    client = signed_in(STAFF)
    case_path, (item,) = reported(client, [("IMG_0042.jpg", photo, "image/jpeg")])

    answer = client.get(f"{case_path}/evidence/{item}/preview")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "image/webp"
    assert answer.headers["cache-control"] == "private, no-store"
    assert "sandbox" in answer.headers["content-security-policy"]
    thumb = Image.open(io.BytesIO(answer.content))
    assert thumb.size == (320, 320) and not thumb.getexif()
    assert not {"exif", "xmp", "icc_profile"} & set(thumb.info)

    view = client.get(f"{case_path}/evidence/{item}/preview?size=view")
    assert view.status_code == 200
    upright = Image.open(io.BytesIO(view.content))
    assert upright.size == (200, 400), "portrait, as the phone held it"
    assert not upright.getexif(), "no GPS, no camera, nothing"
    top = upright.convert("RGB").getpixel((100, 50))
    assert isinstance(top, tuple)
    red, _, blue = top
    assert red > 180 and blue < 60, "red is at the top once upright"

    download = client.get(f"{case_path}/evidence/{item}")
    digest = hashlib.sha256(photo).hexdigest()
    assert download.content == photo, "the original is byte for byte what was uploaded"
    assert download.headers["x-evidence-sha256"] == digest
    assert cache_path(digest, "thumb").exists() and cache_path(digest, "view").exists()

    case_id = int(case_path.rsplit("/", 1)[1])
    seen = preview_views(configured.database_url, case_id)
    assert seen == [
        {"evidence_id": item, "sha256": digest, "preview": "thumb"},
        {"evidence_id": item, "sha256": digest, "preview": "view"},
    ], "each preview shown is in the access log, as a download is"


def test_files_with_no_preview_answer_404_with_the_reason_never_500(
    signed_in: Callable[[str], TestClient], configured: Settings
) -> None:
    client = signed_in(STAFF)
    files = [
        ("letter.pdf", PDF, "application/pdf"),
        ("broken.png", PNG, "image/png"),
        ("half.jpg", cut_short(sideways_photo(1200, 900)), "image/jpeg"),
        ("bomb.png", png_claiming(100_000, 100_000), "image/png"),
    ]
    case_path, ids = reported(client, files)
    reasons = ["it is a PDF document"] + ["could not be read as a picture"] * 3
    for item, reason in zip(ids, reasons, strict=True):
        answer = client.get(f"{case_path}/evidence/{item}/preview")
        assert answer.status_code == 404, answer.text
        assert reason in answer.text
    unknown = client.get(f"{case_path}/evidence/{ids[0]}/preview?size=huge")
    assert unknown.status_code == 404 and "thumb" in unknown.text
    assert not preview_dir().exists() or not any(preview_dir().iterdir())
    case_id = int(case_path.rsplit("/", 1)[1])
    assert preview_views(configured.database_url, case_id) == [], "nothing shown, nothing logged"


def test_a_preview_is_refused_exactly_as_the_download_is(
    signed_in: Callable[[str], TestClient], client: TestClient, configured: Settings
) -> None:
    url = configured.database_url
    reporter = signed_in(STAFF)
    photo = sideways_photo()
    case_path, (own,) = reported(reporter, [("mine.jpg", photo, "image/jpeg")])
    case_id = int(case_path.rsplit("/", 1)[1])
    heads, _ = added_by(url, case_id, Role.HEADTEACHER, sideways_photo(300, 100))

    def both(item: int) -> tuple[int, int, str, str]:
        download = client.get(f"{case_path}/evidence/{item}")
        preview = client.get(f"{case_path}/evidence/{item}/preview")
        return download.status_code, preview.status_code, download.text, preview.text

    assert both(own)[:2] == (200, 200), "the reporter sees what they uploaded"
    refused = both(heads)
    assert refused[:2] == (403, 403), "but not the head's file"
    assert "Only the people running this case can download its evidence." in refused[3]

    client.cookies.clear()
    signed_in(OTHER_STAFF)
    for item in (own, heads):
        hidden = both(item)
        assert hidden[:2] == (404, 404), "someone the case is hidden from"
        assert "no case with that number that you can see" in hidden[3]

    client.cookies.clear()
    signed_out = client.get(f"{case_path}/evidence/{own}/preview", follow_redirects=False)
    assert signed_out.status_code == 303 and "/signin" in signed_out.headers["location"]
    assert preview_views(url, case_id) == [
        {
            "evidence_id": own,
            "sha256": hashlib.sha256(photo).hexdigest(),
            "preview": "thumb",
        }
    ], "only what was shown is logged"


def test_disposal_erases_the_cached_previews(
    signed_in: Callable[[str], TestClient], configured: Settings
) -> None:
    url = configured.database_url
    case_id = closed_case(url, full=False)
    item, digest = added_by(url, case_id, Role.DSL, sideways_photo())
    dsl = signed_in(DSL)
    for size in ("thumb", "view"):
        assert dsl.get(f"/cases/{case_id}/evidence/{item}/preview?size={size}").status_code == 200
    cached = [cache_path(digest, "thumb"), cache_path(digest, "view")]
    assert all(path.exists() for path in cached)

    done = dispose(case_id, person(url, Role.DSL).id, "Retention period over; reviewed.")
    assert done.files_left == 0
    assert not any(path.exists() for path in cached), "no copy of the picture is left"
    assert dsl.get(f"/cases/{case_id}/evidence/{item}/preview").status_code == 410


def figure(**row: object) -> str:
    """The macro's HTML for one evidence row, as the case page would include it."""
    e = SimpleNamespace(
        **{
            "id": 7,
            "original_filename": "Zrzut ekranu <1>.png",
            "content_type": "image/png",
            "size": 2_400_000,
            "captured_at": datetime(2026, 7, 1, 17, 5, tzinfo=UTC),
            "source": "",
            "sha256": "ab12" * 16,
            **row,
        }
    )
    template = environment().from_string(
        '{% from "pages/_evidence_preview.html" import evidence_preview %}'
        "{{ evidence_preview(case_id, e) }}"
    )
    return template.render(case_id=3, e=e)


def test_the_macro_shows_a_picture_as_a_fixed_size_preview_linking_to_the_original() -> None:
    html = figure()
    assert '<a href="/cases/3/evidence/7" class="evidence-preview-image">' in html
    assert 'src="/cases/3/evidence/7/preview"' in html
    assert f'width="{THUMB_BOX}" height="{THUMB_BOX}"' in html, "the size every thumbnail is"
    assert 'loading="lazy"' in html
    assert 'alt="Zrzut ekranu &lt;1&gt;.png (download the original)"' in html
    assert "2.3 MB" in html and 'title="2,400,000 bytes"' in html
    assert "received <time" in html and "1 July 2026, 18:05" in html, "UK time"
    assert '<code title="' + "ab12" * 16 + '">ab12ab12ab12…</code>' in html
    assert "<details" in html and '<code class="hash">' + "ab12" * 16 in html
    assert 'href="/cases/3/evidence/7/preview?size=view"' in html


def test_the_macro_labels_other_files_and_gives_sizes_in_kb() -> None:
    html = figure(content_type="application/pdf", original_filename="notes.pdf", size=1_500)
    assert "<img" not in html and "preview" not in html.replace("evidence-preview", "")
    assert 'aria-label="PDF: download notes.pdf">PDF</a>' in html
    assert ">2 KB</data>" in html
    assert ">512 bytes</data>" in figure(size=512)
    unnamed = figure(original_filename="")
    assert 'alt="Evidence file 7 (download the original)"' in unnamed
