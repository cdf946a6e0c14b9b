"""Organisations: create one, find one by slug."""

from __future__ import annotations

import re

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from portal.errors import AlreadyExists, InvalidValue, NotFound
from portal.models import Organization
from portal.sync.config import known_timezone

# Slugs end up in URLs and commands, so no leading or trailing hyphen.
SLUG_PATTERN = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?")
SLUG_RULE = "2-64 lower-case letters, digits or hyphens, starting and ending with a letter or digit"
NAME_MAX = 200


def create_organization(
    session: Session, slug: str, name: str, seats: int | None = None, timezone: str = "UTC"
) -> Organization:
    """Create an organisation; ``seats=None`` means an unlimited number of employees."""
    slug = validate_slug(slug)
    organization = Organization(
        slug=slug, name=_validate_name(name), seats=_validate_seats(seats), timezone=validate_timezone(timezone)
    )
    if session.exec(select(Organization.id).where(Organization.slug == slug)).first() is not None:
        raise AlreadyExists(f"An organisation with slug {slug!r} already exists.")
    session.add(organization)
    try:
        session.flush()
    except IntegrityError:  # created concurrently between the check and the insert
        raise AlreadyExists(f"An organisation with slug {slug!r} already exists.") from None
    return organization


def get_organization(session: Session, slug: str) -> Organization:
    """The organisation with this slug, or NotFound."""
    organization = session.exec(select(Organization).where(Organization.slug == slug.strip())).first()
    if organization is None:
        raise NotFound(f"No organisation with slug {slug!r}.")
    return organization


def validate_slug(slug: str) -> str:
    """The slug trimmed, or InvalidValue explaining the rule."""
    slug = slug.strip()
    if len(slug) < 2 or not SLUG_PATTERN.fullmatch(slug):
        raise InvalidValue(f"Invalid slug {slug!r}: use {SLUG_RULE}.")
    return slug


def validate_timezone(timezone: str) -> str:
    """The IANA time-zone name, or InvalidValue if zoneinfo does not know it."""
    zone = known_timezone(timezone)
    if zone is None:
        raise InvalidValue(f"Unknown time zone {timezone.strip()!r}: use an IANA name such as 'Europe/Berlin'.")
    return zone


def _validate_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise InvalidValue("The organisation's name must not be empty.")
    if len(name) > NAME_MAX:
        raise InvalidValue(f"The organisation's name is too long ({len(name)} characters; at most {NAME_MAX}).")
    return name


def _validate_seats(seats: int | None) -> int | None:
    if seats is not None and (isinstance(seats, bool) or not isinstance(seats, int) or seats < 0):
        raise InvalidValue(f"Seats must be a whole number of 0 or more (or none for unlimited), got {seats!r}.")
    return seats
