"""The portal's page fixtures (organisations, admins, signing in through the real form), and photo files."""

from __future__ import annotations

import io

from PIL import Image

from tests.web.conftest import (  # noqa: F401  (fixtures)
    admin,
    auth,
    csrf_token,
    db,
    org,
    other_org,
    other_org_admin,
    signed_in,
)


def image_bytes(kind: str = "JPEG", size: tuple[int, int] = (800, 600), mode: str = "RGB",
                colour: object = (30, 90, 160), **save: object) -> bytes:
    """A real image file of ``kind`` made with Pillow."""
    out = io.BytesIO()
    Image.new(mode, size, colour).save(out, kind, **save)
    return out.getvalue()
