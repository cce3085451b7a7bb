"""Previews of image evidence: small copies made on the server, so a page can show what a
screenshot is without anyone downloading the original.

A preview is decoded from the original, shrunk, turned upright by its EXIF orientation and
encoded afresh as WebP from the bare pixels, so no metadata survives: no EXIF (GPS among
it), XMP, ICC profile or PNG text. Only an animated file's first frame is kept. Previews are
made the first time someone asks for one and cached in their own folder under the files
root, named by the original's SHA-256; the original is only ever read. Disposal erases them
with the case's files (services/retention.py calls `erase_previews`).

Pillow is imported here and nowhere else in Casework's own packages.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from PIL import ExifTags, Image

from core.files import evidence_files
from core.settings import get_settings

log = logging.getLogger("casework.previews")

# The image types evidence may be (forms/common.py), and the one decoder each may use: Pillow
# is never asked to guess a format, so a file cannot reach a decoder we did not choose.
DECODERS = {"image/png": "PNG", "image/jpeg": "JPEG", "image/gif": "GIF", "image/webp": "WEBP"}
MEDIA_TYPE = "image/webp"
# A thumbnail always fills this square, padded with transparency, so a page can give its
# <img> a fixed width and height (templates/pages/_evidence_preview.html uses the number).
THUMB_BOX = 320
SIZES = {"thumb": THUMB_BOX, "view": 800}
# Well beyond a phone's screenshot or photo (48 megapixels). Checked from the header before a
# pixel is decoded: a small file that claims more is a decompression bomb. Pillow's own,
# larger MAX_IMAGE_PIXELS check still runs as the file is opened; its global is left alone.
MAX_PIXELS = 50_000_000
# Part of every cached name, so changing how previews are made never serves an old one.
RECIPE = "v1"
QUALITY = 82
SHA256 = re.compile(r"[0-9a-f]{64}")
# EXIF orientation -> the transposition that turns the picture upright (as ImageOps does).
UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}

UNREADABLE = (
    "This file has no preview: it could not be read as a picture. Download the original to open it."
)


class NoPreview(Exception):
    """Why a file has no preview, in words for the person who asked for it."""


@dataclass(frozen=True)
class Original:
    """What a preview needs to know of an evidence file."""

    stored_name: str
    sha256: str
    content_type: str


def preview_of(original: Original, size: str = "thumb") -> bytes:
    """The preview's WebP bytes, made and cached the first time it is asked for."""
    box = SIZES.get(size)
    if box is None:
        raise NoPreview("There is no preview of that size: ask for 'thumb' or 'view'.")
    decoder = DECODERS.get(original.content_type)
    if decoder is None:
        raise NoPreview(no_preview_for(original.content_type))
    if not SHA256.fullmatch(original.sha256):
        raise NoPreview(UNREADABLE)
    cached = cache_path(original.sha256, size)
    try:
        return cached.read_bytes()
    except OSError:
        pass  # not made yet, or unreadable: make it again
    made = render(original_bytes(original), decoder, box, pad=size == "thumb")
    keep(cached, made, evidence_files().path(original.stored_name))
    return made


def no_preview_for(content_type: str) -> str:
    what = "a PDF document" if content_type == "application/pdf" else "not a picture"
    return f"This file has no preview: it is {what}. Download the original to read it."


def preview_dir() -> Path:
    """Beside the evidence folder, so previews live (and are shared) wherever originals are."""
    return get_settings().files_path / "previews"


def cache_path(sha256: str, size: str) -> Path:
    """Where the preview of a file with this SHA-256 is kept; refuses anything but a digest."""
    if not SHA256.fullmatch(sha256):
        raise ValueError("not a SHA-256 digest")
    return preview_dir() / f"{sha256}.{RECIPE}.{size}.webp"


def original_bytes(original: Original) -> bytes:
    """The original as stored, provided it still matches the fingerprint taken at upload."""
    try:
        data = evidence_files().path(original.stored_name).read_bytes()
    except (OSError, ValueError) as exc:
        log.warning("no preview of evidence file %s: %s", original.stored_name, exc)
        raise NoPreview(UNREADABLE) from exc
    # A cached preview is named by the recorded digest: never let other bytes wear that name.
    if hashlib.sha256(data).hexdigest() != original.sha256:
        log.error("evidence file %s no longer matches its SHA-256", original.stored_name)
        raise NoPreview(UNREADABLE)
    return data


def render(data: bytes, decoder: str, box: int, *, pad: bool) -> bytes:
    """A WebP of the picture in `data`, fitted in `box` (and padded to fill it, with `pad`)."""
    try:
        picture = bare_pixels(data, decoder, box)
    except NoPreview:
        raise
    except Exception as exc:
        # Hostile or damaged files make Pillow raise almost anything (OSError, SyntaxError,
        # ValueError, its DecompressionBombError and warning...): each means no preview.
        log.info("no preview: the picture could not be decoded (%s)", exc)
        raise NoPreview(UNREADABLE) from exc
    if pad:
        picture = padded(picture, box)
    out = io.BytesIO()
    picture.save(out, "WEBP", quality=QUALITY, method=4)
    return out.getvalue()


def bare_pixels(data: bytes, decoder: str, box: int) -> Image.Image:
    """The first frame, shrunk to fit `box` and upright, as a new image that carries no
    metadata at all."""
    with Image.open(io.BytesIO(data), formats=[decoder]) as image:
        width, height = image.size
        if width * height > MAX_PIXELS:
            raise NoPreview(
                "This file has no preview: the picture is too large to shrink safely. "
                "Download the original to open it."
            )
        orientation = image.getexif().get(ExifTags.Base.Orientation, 1)
        image.draft("RGB", (box, box))  # JPEG decodes at a fraction of full size; others ignore
        frame = image.convert("RGBA" if has_alpha(image) else "RGB")
    # Shrinking before turning is the same as turning first, as the box is square, and cheaper.
    frame.thumbnail((box, box), Image.Resampling.LANCZOS)
    if orientation in UPRIGHT:
        frame = frame.transpose(UPRIGHT[orientation])
    # Copies and resizes keep `info` (where EXIF, XMP, ICC and PNG text live); a new image
    # made from the raw pixels starts with none.
    return Image.frombytes(frame.mode, frame.size, frame.tobytes())


def has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA", "La") or "transparency" in image.info


def padded(picture: Image.Image, box: int) -> Image.Image:
    """The picture centred on a transparent square of side `box`."""
    canvas = Image.new("RGBA", (box, box), (0, 0, 0, 0))
    width, height = picture.size
    canvas.paste(picture, ((box - width) // 2, (box - height) // 2))
    return canvas


def keep(path: Path, data: bytes, original: Path) -> None:
    """Cache a preview; a cache that cannot be written costs only the next request's time."""
    part = path.with_name(f".{path.name}.{uuid.uuid4().hex}.part")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        part.write_bytes(data)
        os.replace(part, path)
    except OSError as exc:
        part.unlink(missing_ok=True)
        log.warning("a preview could not be cached: %s", exc)
        return
    # Disposal removes the original before its previews: if the original went while this
    # preview was being made, remove it too rather than leave it behind.
    if not original.exists():
        path.unlink(missing_ok=True)


def erase_previews(digests: Iterable[str]) -> int:
    """Remove every cached preview of files with these SHA-256s; returns how many went.

    Another case may hold a file with the same digest: its preview is simply made again."""
    folder = preview_dir()
    removed = 0
    for digest in digests:
        if not SHA256.fullmatch(digest) or not folder.is_dir():
            continue
        for path in [*folder.glob(f"{digest}.*"), *folder.glob(f".{digest}.*")]:
            path.unlink(missing_ok=True)
            removed += 1
    return removed
