"""Profile photos, when the "sync photos" setting is on.

Graph does not report photo changes in /users/delta, so photos are read for the
users a run touches (every in-scope user on a full run), twenty per ``$batch``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Sequence
from typing import Any

MAX_PHOTO_BYTES = 4 * 1024 * 1024  # Entra accepts up to 4 MB; anything larger is odd data, not a photo


def fetch_photos(graph: Any, user_ids: Sequence[str]) -> dict[str, bytes | None]:
    """Each user's photo bytes, or None when they have none; users Graph could not answer are left out."""
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
            if 0 < len(data) <= MAX_PHOTO_BYTES:
                photos[uid] = data
    return photos


def photo_hash(data: bytes | None) -> str:
    """The photo as a field value the plan can compare: a content hash ("" for no photo)."""
    return "sha256:" + hashlib.sha256(data).hexdigest()[:32] if data else ""
