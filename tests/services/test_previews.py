"""Previews of image evidence, made from files in a real evidence store: upright, bounded,
stripped of every kind of metadata, cached beside the originals and never a crash."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from core.files import evidence_files
from core.settings import get_settings
from services import previews
from services.previews import (
    NoPreview,
    Original,
    cache_path,
    erase_previews,
    keep,
    preview_dir,
    preview_of,
)
from tests.pictures import (
    BLUE,
    RED,
    SECRET,
    animated_gif,
    cut_short,
    encoded,
    halves,
    png_claiming,
    png_with_text,
    sideways_photo,
)
from tests.support import PDF, PNG


@pytest.fixture(autouse=True)
def files_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Evidence and previews under this test's own folder."""
    monkeypatch.setenv("CASEWORK_VAR_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("CASEWORK_FILES_DIR", raising=False)
    get_settings.cache_clear()
    yield tmp_path / "var"
    get_settings.cache_clear()


def stored(data: bytes, content_type: str) -> Original:
    """The file saved as evidence is, and what a preview is told of it."""
    saved = evidence_files().save(data)
    return Original(saved.stored_name, saved.sha256, content_type)


def opened(data: bytes) -> Image.Image:
    picture = Image.open(io.BytesIO(data))
    assert picture.format == "WEBP"
    return picture


def pixel(picture: Image.Image, x: int, y: int) -> tuple[int, ...]:
    found = picture.getpixel((x, y))
    assert isinstance(found, tuple)
    return found


def close_to(found: tuple[int, ...], colour: tuple[int, int, int]) -> bool:
    """Lossy encoding moves colours a little."""
    return all(abs(a - b) <= 24 for a, b in zip(found[:3], colour, strict=True))


def test_a_sideways_photo_is_turned_upright_and_keeps_no_metadata() -> None:
    photo = sideways_photo()
    source = Image.open(io.BytesIO(photo))
    assert source.getexif().get_ifd(0x8825), "the test photo carries GPS"
    assert {"exif", "xmp", "icc_profile"} <= set(source.info)
    original = stored(photo, "image/jpeg")

    for size in ("thumb", "view"):
        made = preview_of(original, size)
        picture = opened(made)
        assert not picture.getexif(), "no EXIF at all, so no GPS"
        assert not {"exif", "xmp", "icc_profile"} & set(picture.info)
        assert SECRET.encode() not in made and b"PhoneCo" not in made
        assert b"Exif" not in made and b"XMP " not in made and b"ICCP" not in made

    upright = opened(preview_of(original, "view")).convert("RGB")
    assert upright.size == (200, 400), "turned to portrait, and never enlarged"
    assert close_to(pixel(upright, 100, 50), RED) and close_to(pixel(upright, 100, 350), BLUE), (
        "the left of the stored picture is the top of the upright one"
    )

    path = evidence_files().path(original.stored_name)
    assert path.read_bytes() == photo, "the original is untouched"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == original.sha256


def test_a_thumbnail_fills_its_square_and_a_view_is_bounded() -> None:
    wide = stored(encoded(halves(3000, 1000), "PNG"), "image/png")
    thumb = opened(preview_of(wide, "thumb"))
    assert thumb.size == (previews.THUMB_BOX, previews.THUMB_BOX)
    assert pixel(thumb, 160, 10)[3] == 0, "padded with transparency above the picture"
    assert close_to(pixel(thumb, 40, 160), RED) and close_to(pixel(thumb, 280, 160), BLUE)
    assert opened(preview_of(wide, "view")).size == (800, 267)

    small = stored(encoded(halves(60, 30), "PNG"), "image/png")
    assert opened(preview_of(small, "view")).size == (60, 30), "never enlarged"
    assert opened(preview_of(small, "thumb")).size == (320, 320)


def test_png_text_goes_and_an_animation_keeps_its_first_frame() -> None:
    screenshot = png_with_text()
    assert Image.open(io.BytesIO(screenshot)).info["Author"] == SECRET
    made = preview_of(stored(screenshot, "image/png"), "view")
    assert SECRET.encode() not in made and "Author" not in opened(made).info

    frames = opened(preview_of(stored(animated_gif(), "image/gif"), "view"))
    assert getattr(frames, "n_frames", 1) == 1
    assert close_to(pixel(frames.convert("RGB"), 30, 20), RED), "the first frame"


@pytest.mark.parametrize(
    ("data", "content_type", "words"),
    [
        (PDF, "application/pdf", "it is a PDF document"),
        (PNG, "image/png", "could not be read as a picture"),  # a PNG's start, then noise
        (cut_short(sideways_photo(1200, 900)), "image/jpeg", "could not be read as a picture"),
        (sideways_photo(), "image/png", "could not be read as a picture"),  # not what it says
        (png_claiming(100_000, 100_000), "image/png", "could not be read as a picture"),
        (png_claiming(8_000, 8_000), "image/png", "too large to shrink safely"),
    ],
    ids=["pdf", "corrupt", "truncated", "mislabelled", "bomb", "too-large"],
)
def test_a_file_that_is_no_picture_has_no_preview_and_nothing_is_cached(
    data: bytes, content_type: str, words: str
) -> None:
    original = stored(data, content_type)
    with pytest.raises(NoPreview, match=words):
        preview_of(original)
    assert not preview_dir().exists() or not any(preview_dir().iterdir())


def test_an_original_that_no_longer_matches_its_fingerprint_has_no_preview() -> None:
    saved = stored(sideways_photo(), "image/jpeg")
    changed = Original(saved.stored_name, hashlib.sha256(b"other").hexdigest(), "image/jpeg")
    with pytest.raises(NoPreview):
        preview_of(changed)
    assert not cache_path(changed.sha256, "thumb").exists()


def test_a_preview_is_cached_by_the_originals_digest_and_erased_by_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = stored(sideways_photo(), "image/jpeg")
    first = preview_of(original)
    cached = cache_path(original.sha256, "thumb")
    assert cached.read_bytes() == first
    assert cached.parent != evidence_files().directory, "kept apart from the originals"

    def never(*args: object, **kwargs: object) -> bytes:
        raise AssertionError("made again")

    monkeypatch.setattr(previews, "render", never)
    assert preview_of(original) == first, "the second asking reads the cache"
    assert not cache_path(original.sha256, "view").exists(), "each size is made when asked"

    assert erase_previews([original.sha256, "not-a-digest"]) == 1
    assert not cached.exists()
    assert evidence_files().path(original.stored_name).exists(), "the original stays"


def test_a_preview_whose_original_went_while_it_was_made_is_not_kept(tmp_path: Path) -> None:
    target = cache_path(hashlib.sha256(b"gone").hexdigest(), "thumb")
    keep(target, b"preview", tmp_path / "no-such-original")
    assert not target.exists()
    assert not [p for p in preview_dir().iterdir() if p.name.endswith(".part")]
