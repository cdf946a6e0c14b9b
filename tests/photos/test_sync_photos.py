"""The sync's photos: only usable images are kept, made the signature image, and an unchanged photo stays unchanged."""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass

from PIL import Image

from portal.photos.image import prepare_photo
from portal.sync.photos import fetch_photos, photo_hash

from .conftest import image_bytes


@dataclass
class _Answer:
    status: int
    body: object


class _Graph:
    """Graph's $batch, answering from a dict of user id → (status, body)."""

    def __init__(self, answers: dict[str, tuple[int, object]]) -> None:
        self.answers = answers

    def batch_get(self, urls: dict[str, str]) -> dict[str, _Answer]:
        return {uid: _Answer(*self.answers[uid]) for uid in urls if uid in self.answers}


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_photos_are_checked_and_stored_as_the_signature_image() -> None:
    photo = image_bytes("PNG", (1000, 1000))
    graph = _Graph({
        "good": (200, _b64(photo)),
        "none": (404, None),
        "svg": (200, _b64(b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>')),
        "fake-jpeg": (200, _b64(b"\xff\xd8\xff\xe0" + b"photo" * 20 + b"\xff\xd9")),
        "garbled": (200, "%%% not base64 %%%"),
        "throttled": (429, None),
    })
    photos = fetch_photos(graph, ["good", "none", "svg", "fake-jpeg", "garbled", "throttled", "unanswered"])
    assert photos == {"good": prepare_photo(photo), "none": None}  # the rest keep the photo they have
    assert Image.open(io.BytesIO(photos["good"])).size == (648, 648)


def test_an_unchanged_photo_compares_equal_to_the_stored_one() -> None:
    """The plan compares photo_hash(what Graph gave, made the signature image) with photo_hash(stored): the
    same Microsoft 365 photo read again is no change, so it is not written again; a new one is."""
    photo = image_bytes("JPEG", (640, 640))
    stored = fetch_photos(_Graph({"u": (200, _b64(photo))}), ["u"])["u"]
    again = fetch_photos(_Graph({"u": (200, _b64(photo))}), ["u"])["u"]
    assert photo_hash(again) == photo_hash(stored)
    changed = fetch_photos(_Graph({"u": (200, _b64(image_bytes("JPEG", (640, 640), colour=(200, 0, 0))))}), ["u"])
    assert photo_hash(changed["u"]) != photo_hash(stored)
