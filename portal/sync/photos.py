"""Profile photos, when the "sync photos" setting is on.

Graph does not report photo changes in /users/delta, so photos are read for the
users a run touches (every in-scope user on a full run), twenty per ``$batch``.
Each photo is checked and made the signature image here (``portal.photos.image``:
JPEG/PNG/GIF decoded in full, at most 4 MB, at most 648 × 648) before the plan sees
it: the same photo always makes the same bytes, so the plan's hash comparison finds
an unchanged photo unchanged and the run writes only photos that changed. A body
that is not a usable image is left out, so the employee keeps the photo it has.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
from collections.abc import Sequence
from typing import Any

from portal.photos.image import MAX_BYTES, PhotoProblem, prepare_photo

MAX_PHOTO_BYTES = MAX_BYTES  # Entra accepts up to 4 MB; anything larger is odd data, not a photo
log = logging.getLogger(__name__)


def fetch_photos(graph: Any, user_ids: Sequence[str]) -> dict[str, bytes | None]:
    """Each user's signature image, or None when they have none; users Graph could not answer, or answered with
    something that is not a usable photo, are left out (they keep the photo they have)."""
    if not user_ids:
        return {}
    answers = graph.batch_get({uid: f"/users/{uid}/photo/$value" for uid in user_ids})
    photos: dict[str, bytes | None] = {}
    for uid, answer in answers.items():
        if answer.status == 404:
            photos[uid] = None
        elif answer.status == 200 and isinstance(answer.body, str):
            try:
                data = base64.b64decode(answer.body, validate=True)
            except (binascii.Error, ValueError):
                continue  # a garbled body keeps the photo we have
            try:
                photos[uid] = prepare_photo(data)
            except PhotoProblem as problem:
                log.warning("photo of user %s not used: %s", uid, problem)
    return photos


def photo_hash(data: bytes | None) -> str:
    """The photo as a field value the plan can compare: a content hash ("" for no photo)."""
    return "sha256:" + hashlib.sha256(data).hexdigest()[:32] if data else ""
