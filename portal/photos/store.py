"""Which photo an employee shows, the address it is served at, and an admin's own upload.

- **Microsoft 365's photo** is ``Employee.photo``: the sync writes it (``portal.sync.photos`` makes it the
  signature image first, so an unchanged photo is the same bytes and is not written again).
- **An admin's upload** is an ``EmployeePhoto`` row: it wins over Microsoft 365's until given back, and the sync
  never touches it (giving it back deletes the row; Microsoft 365's photo shows again at once).
- **The address** is ``/photos/<id>-<mac>.jpg``: the mac is an HMAC of the employee's id and creation time
  under a key derived from ``SECRET_KEY``, so it is stable for the employee's life, cannot be guessed from the
  id, needs no stored token (nothing is written when a signature is rendered), and an id SQLite hands out
  again after a delete does not open the earlier employee's address. Changing ``SECRET_KEY`` changes every
  photo address. A signature gets the address with ``?v=`` and the photo's hash, so a new photo is a new URL
  for every cache while the old one keeps answering.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Column, DateTime, ForeignKey, Integer, LargeBinary
from sqlmodel import Field, Session, SQLModel

from portal.models import Employee, utcnow

SERVED_STATUSES = ("active", "paused")  # as the signature API: pausing stops the sync, not the signature
_KEY_PURPOSE = b"sigsync employee photo addresses v1"


class EmployeePhoto(SQLModel, table=True):
    """A photo an admin uploaded for one employee (the signature image), shown instead of Microsoft 365's."""

    employee_id: int = Field(sa_column=Column(Integer, ForeignKey("employee.id", ondelete="CASCADE"),
                                              primary_key=True))
    organization_id: int = Field(sa_column=Column(Integer, ForeignKey("organization.id", ondelete="CASCADE"),
                                                  nullable=False, index=True))
    image: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    uploaded_by: str = Field(default="", max_length=320)
    uploaded_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


@dataclass(frozen=True)
class Shown:
    """The photo an employee shows: its bytes, where they come from ("manual" or "m365"), their hash."""

    image: bytes
    source: str
    etag: str
    upload: EmployeePhoto | None = None


def shown(session: Session, employee: Employee) -> Shown | None:
    """The admin's upload if there is one, else Microsoft 365's photo; None for neither."""
    upload = session.get(EmployeePhoto, employee.id)
    if upload is not None:
        return Shown(upload.image, "manual", _etag(upload.image), upload)
    if employee.photo:
        return Shown(employee.photo, "m365", _etag(employee.photo))
    return None


def _etag(image: bytes) -> str:
    return hashlib.sha256(image).hexdigest()[:32]


# --- addresses --------------------------------------------------------------------------------------------

def _created_us(employee: Employee) -> int:
    created = employee.created_at
    if created.tzinfo is None:  # SQLite hands back naive datetimes; they were written in UTC
        created = created.replace(tzinfo=UTC)
    return round(created.timestamp() * 1_000_000)


def _mac(secret_key: str, employee: Employee) -> str:
    key = hmac.new(secret_key.encode(), _KEY_PURPOSE, hashlib.sha256).digest()
    digest = hmac.new(key, f"{employee.id}:{_created_us(employee)}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:24]).decode()  # 192 bits, 32 characters


def token(secret_key: str, employee: Employee) -> str:
    """The employee's photo token: ``<id>-<mac>``."""
    return f"{employee.id}-{_mac(secret_key, employee)}"


def employee_id_of(photo_token: str) -> int | None:
    """The id a token names (not yet proof: ``matches`` checks the mac against the row)."""
    ident, _, mac = photo_token.partition("-")
    if not (ident.isascii() and ident.isdigit() and len(ident) <= 10 and len(mac) == 32):
        return None
    return int(ident) or None


def matches(secret_key: str, employee: Employee, photo_token: str) -> bool:
    return hmac.compare_digest(photo_token.encode(), token(secret_key, employee).encode())


def photo_path(secret_key: str, employee: Employee, photo: Shown) -> str:
    return f"/photos/{token(secret_key, employee)}.jpg?v={photo.etag[:12]}"


def signature_url(session: Session, employee: Employee, *, public_url: str | None = None,
                  secret_key: str | None = None) -> str:
    """``{{ photo_url }}`` for this employee: the photo's absolute address, "" when there is none to show.

    ``public_url`` and ``secret_key`` default to the portal's configuration (SIGSYNC_PUBLIC_URL, SECRET_KEY)."""
    if employee.status not in SERVED_STATUSES:
        return ""
    photo = shown(session, employee)
    if photo is None:
        return ""
    if public_url is None or secret_key is None:
        from flask import current_app

        config = current_app.config["SIGSYNC"]
        public_url = config.public_url if public_url is None else public_url
        secret_key = config.secret_key if secret_key is None else secret_key
    return public_url.rstrip("/") + photo_path(secret_key, employee, photo)


# --- an admin's upload ------------------------------------------------------------------------------------

def set_manual(session: Session, employee: Employee, image: bytes, actor: str) -> EmployeePhoto:
    """Store an admin's photo (already ``prepare_photo``d) for ``employee``; it wins over Microsoft 365's."""
    row = session.get(EmployeePhoto, employee.id) or EmployeePhoto(employee_id=employee.id,
                                                                    organization_id=employee.organization_id,
                                                                    image=image)
    row.image, row.uploaded_by, row.uploaded_at = image, actor, utcnow()
    session.add(row)
    session.flush()
    return row


def give_back(session: Session, employee: Employee) -> bool:
    """Drop the admin's photo: Microsoft 365's shows again. False when there was none."""
    row = session.get(EmployeePhoto, employee.id)
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True
