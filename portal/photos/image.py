"""Checking a photo and making the signature image of it (Pillow).

The bytes decide what a file is: the first bytes must be JPEG's, PNG's or GIF's, and Pillow is only allowed
those three decoders (a file claiming to be a photo never reaches any other). The header's pixel count is
checked before decoding (a small PNG can claim 100,000 × 100,000 pixels), then the first frame is decoded in
full: a truncated or made-up image fails there. What is kept is always a new JPEG written from the pixels —
at most ``MAX_SIDE`` on each side, turned upright, transparency on white, no EXIF (a phone's photo carries
where it was taken) and nothing else from the original file. The same input makes the same bytes, so the
sync can compare a photo with the one it stored.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image, ImageOps

MAX_BYTES = 4 * 1024 * 1024  # Entra ID's own limit for a profile photo
MAX_SIDE = 648  # the largest size Microsoft 365 keeps for a profile photo; plenty for a signature
MAX_PIXELS = 40_000_000  # e.g. 8,000 × 5,000; decoding more than this is refused, whatever the file's size
# PNG and GIF decode at full size (a JPEG is decoded at 1/2…1/8 scale): 16 million RGBA pixels are already
# ~650 MB while resizing, from a file of a few hundred KB. 4,000 × 4,000 is far beyond any profile photo.
MAX_PIXELS_FULL_DECODE = 16_000_000
JPEG_QUALITY = 85
CONTENT_TYPE = "image/jpeg"

_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
)
FORMATS = ("JPEG", "PNG", "GIF")


class PhotoProblem(ValueError):
    """A file that is not a photo Sigsync can use, said in the admin's words."""


def kind_of(data: bytes) -> str | None:
    """"JPEG", "PNG" or "GIF" by the file's first bytes; None for anything else."""
    return next((kind for magic, kind in _SIGNATURES if data.startswith(magic)), None)


def megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def prepare_photo(data: bytes) -> bytes:
    """The signature image (JPEG, at most MAX_SIDE × MAX_SIDE) of a JPEG, PNG or GIF; raises PhotoProblem."""
    if not data:
        raise PhotoProblem("The file is empty.")
    if len(data) > MAX_BYTES:
        raise PhotoProblem(f"The photo is {megabytes(len(data))}; a photo can be at most {megabytes(MAX_BYTES)}. "
                           f"Make it smaller: {MAX_SIDE} × {MAX_SIDE} pixels is plenty for a signature.")
    kind = kind_of(data)
    if kind is None:
        raise PhotoProblem("The file is not a JPEG, PNG or GIF image. Choose a photo in one of those formats.")
    unreadable = PhotoProblem(f"The file starts like a {kind} image but cannot be read: it is damaged or not "
                              "really an image. Save the photo again as JPEG or PNG and upload that.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[kind]) as opened:
                width, height = opened.size  # from the header: nothing decoded yet
                limit = MAX_PIXELS if kind == "JPEG" else MAX_PIXELS_FULL_DECODE
                if width < 1 or height < 1 or width * height > limit:
                    raise PhotoProblem(
                        f"The image says it is {width:,} × {height:,} pixels; at most {limit // 1_000_000} "
                        f"million pixels can be read. Make it smaller ({MAX_SIDE} × {MAX_SIDE} is plenty).")
                if kind == "JPEG":
                    opened.draft(None, (MAX_SIDE, MAX_SIDE))  # decode a large JPEG at 1/2…1/8 scale
                opened.load()  # decodes the (first) frame in full: this is the proof it is an image
                return _signature_image(opened)
    except PhotoProblem:
        raise
    except (OSError, ValueError, SyntaxError, EOFError, IndexError, KeyError, TypeError, MemoryError,
            Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise unreadable from None


def _signature_image(image: Image.Image) -> bytes:
    upright = ImageOps.exif_transpose(image)
    if upright.mode in ("RGBA", "LA", "PA") or (upright.mode == "P" and "transparency" in upright.info):
        rgba = upright.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
    else:
        flat = upright.convert("RGB")
    flat.thumbnail((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    clean = Image.frombytes("RGB", flat.size, flat.tobytes())  # pixels only: no EXIF, ICC or comments carried
    out = io.BytesIO()
    clean.save(out, "JPEG", quality=JPEG_QUALITY)
    return out.getvalue()
