"""Typed errors the services raise; each message is written for the admin who must act on it."""

from __future__ import annotations


class SigsyncError(Exception):
    """A refusal the admin can act on; the message says what and why."""


class NotFound(SigsyncError, LookupError):
    """The organisation, employee or department asked for does not exist."""


class AlreadyExists(SigsyncError):
    """A slug, e-mail address or membership is already taken."""


class InvalidValue(SigsyncError, ValueError):
    """A value was malformed, too long or unknown."""


class SeatLimitReached(SigsyncError):
    """The organisation has no seat left for another billable employee."""


class InvalidTransition(SigsyncError):
    """A sync-status change that makes no sense from the employee's current status."""
