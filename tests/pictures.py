"""Pictures for the preview tests, made with Pillow: a phone photo that carries everything a
preview must leave behind, an animated GIF, and files that only pretend to be pictures."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import ExifTags, Image, ImageCms
from PIL.PngImagePlugin import PngInfo

RED = (220, 20, 20)
BLUE = (20, 20, 220)
SECRET = "Jordan Miles, 14 Acacia Avenue"
XMP = (
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
    f'xmlns:dc="http://purl.org/dc/elements/1.1/" dc:creator="{SECRET}"/></rdf:RDF></x:xmpmeta>'
).encode()


def encoded(image: Image.Image, kind: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, kind, **options)
    return out.getvalue()


def halves(width: int, height: int) -> Image.Image:
    """Red on the left half, blue on the right."""
    image = Image.new("RGB", (width, height), RED)
    image.paste(BLUE, (width // 2, 0, width, height))
    return image


def sideways_photo(width: int = 400, height: int = 200) -> bytes:
    """A JPEG stored on its side, as phones save them: EXIF says turn it 90 degrees
    clockwise (Orientation 6), so upright it is red on top and blue below. It carries GPS,
    a camera make, an ICC profile and XMP naming someone. The profile records when it was
    made, so two calls a second apart give different bytes."""
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.Base.Make] = "PhoneCo"
    exif[ExifTags.Base.ImageDescription] = SECRET
    exif[ExifTags.IFD.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N",
        ExifTags.GPS.GPSLatitude: (51.0, 30.0, 12.5),
        ExifTags.GPS.GPSLongitudeRef: "W",
        ExifTags.GPS.GPSLongitude: (0.0, 7.0, 40.1),
    }
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    return encoded(halves(width, height), "JPEG", exif=exif, icc_profile=icc, xmp=XMP)


def png_with_text(width: int = 300, height: int = 150) -> bytes:
    """A PNG screenshot with text chunks naming someone."""
    info = PngInfo()
    info.add_text("Author", SECRET)
    info.add_itxt("Comment", SECRET, lang="en-GB")
    return encoded(halves(width, height), "PNG", pnginfo=info)


def animated_gif() -> bytes:
    """Two frames: red, then blue."""
    first, second = Image.new("RGB", (60, 40), RED), Image.new("RGB", (60, 40), BLUE)
    return encoded(first, "GIF", save_all=True, append_images=[second], duration=100, loop=0)


def png_claiming(width: int, height: int) -> bytes:
    """A small, well-formed PNG whose header claims `width` x `height` pixels: a
    decompression bomb as far as anything that trusts the header is concerned."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    pixels = zlib.compress(b"\0" * 1024)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )


def cut_short(data: bytes) -> bytes:
    """The first half of a file, as a broken upload leaves it."""
    return data[: len(data) // 2]
