"""A photo is judged by its bytes, decoded in full within a pixel budget, and kept as a small, clean JPEG."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from portal.photos.image import MAX_BYTES, MAX_SIDE, PhotoProblem, kind_of, prepare_photo

from .conftest import image_bytes


def _open(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


@pytest.mark.parametrize("kind", ["JPEG", "PNG", "GIF"])
def test_jpeg_png_and_gif_become_a_jpeg_of_at_most_648_pixels(kind: str) -> None:
    out = _open(prepare_photo(image_bytes(kind, (1296, 972), mode="RGB" if kind != "GIF" else "P", colour=3)))
    assert out.format == "JPEG"
    assert out.size == (MAX_SIDE, 486)  # fitted, proportions kept


def test_a_small_photo_is_not_enlarged_and_the_same_photo_makes_the_same_bytes() -> None:
    data = image_bytes("PNG", (120, 160))
    assert _open(prepare_photo(data)).size == (120, 160)
    assert prepare_photo(data) == prepare_photo(data)  # the sync compares hashes of these


def test_metadata_does_not_survive_and_the_photo_is_turned_upright() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° to show
    exif[0x010F] = "PhoneMaker"
    data = image_bytes("JPEG", (400, 200), exif=exif.tobytes(), comment=b"secret comment")
    out = prepare_photo(data)
    image = _open(out)
    assert image.size == (200, 400)
    assert not image.getexif() and b"PhoneMaker" not in out and b"secret comment" not in out


def test_transparency_is_laid_on_white() -> None:
    out = _open(prepare_photo(image_bytes("PNG", (10, 10), mode="RGBA", colour=(255, 0, 0, 0))))
    assert out.getpixel((5, 5)) == pytest.approx((255, 255, 255), abs=2)


# --- files that lie about what they are --------------------------------------------------------------------

SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect width="10" height="10"/></svg>'
HTML = b"<!doctype html><script>alert(1)</script>"
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF"


@pytest.mark.parametrize(("data", "words"), [
    (SVG, "not a JPEG, PNG or GIF"),
    (HTML, "not a JPEG, PNG or GIF"),
    (PDF, "not a JPEG, PNG or GIF"),
    (image_bytes("BMP", (10, 10)), "not a JPEG, PNG or GIF"),
    (image_bytes("WEBP", (10, 10)), "not a JPEG, PNG or GIF"),
    (image_bytes("TIFF", (10, 10)), "not a JPEG, PNG or GIF"),
    (b"\xff\xd8\xff\xe0" + b"photo" * 20 + b"\xff\xd9", "starts like a JPEG image but cannot be read"),
    (b"\xff\xd8\xff" + HTML, "starts like a JPEG image but cannot be read"),
    (image_bytes("JPEG", (300, 300))[:400], "starts like a JPEG image but cannot be read"),  # cut short
    (image_bytes("PNG", (300, 300))[:60], "starts like a PNG image but cannot be read"),
    (b"GIF89a" + SVG, "starts like a GIF image but cannot be read"),
    (b"", "empty"),
])
def test_a_file_that_is_not_a_usable_image_is_refused_with_the_reason(data: bytes, words: str) -> None:
    with pytest.raises(PhotoProblem, match=words):
        prepare_photo(data)


def test_a_real_image_under_another_name_is_judged_by_its_bytes() -> None:
    assert kind_of(image_bytes("PNG", (4, 4))) == "PNG"  # a PNG called photo.jpg is a PNG
    assert kind_of(image_bytes("GIF", (4, 4), mode="P", colour=1)) == "GIF"
    assert kind_of(SVG) is None


def test_more_than_4_mb_is_refused_before_anything_is_read() -> None:
    with pytest.raises(PhotoProblem, match=r"4\.0 MB"):
        prepare_photo(b"\xff\xd8\xff" + b"\0" * MAX_BYTES)


def _png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` × ``height`` pixels (a decompression bomb's shape)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    rows = zlib.compress(b"\0" * 64)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", rows) + chunk(b"IEND", b""))


@pytest.mark.parametrize(("width", "height"), [(20_000, 20_000), (100_000, 100_000), (1, 50_000_000)])
def test_an_image_claiming_too_many_pixels_is_refused_from_its_header(width: int, height: int) -> None:
    data = _png_header_only(width, height)
    assert len(data) < 200
    with pytest.raises(PhotoProblem) as caught:
        prepare_photo(data)
    assert "pixels" in str(caught.value) or "cannot be read" in str(caught.value)


def test_a_png_is_held_to_the_full_decode_limit_a_jpeg_of_the_same_size_is_not() -> None:
    """PNG and GIF decode at full size: 6,324 × 6,324 (40 million pixels of RGBA) peaked at 665 MB. A JPEG
    that large is decoded at reduced scale and stays allowed (a camera's photo)."""
    with pytest.raises(PhotoProblem, match="at most 16 million"):
        prepare_photo(_png_header_only(6_324, 6_324))
    jpeg = image_bytes("JPEG", (6_000, 4_000), colour=(90, 90, 90))
    assert len(jpeg) <= MAX_BYTES
    assert prepare_photo(jpeg).startswith(b"\xff\xd8")
