"""The one family of errors Sigsync raises; each carries words the admin who must act on it can read.

Every member has ``admin_message``: what happened and what to do, without tokens, secrets or
stack traces. Callers show it as is (``str(exc)`` is for logs). The engine's errors
(``portal.sync``), Microsoft's (``portal.m365.errors``) and the services' below all belong here.
"""

from __future__ import annotations


class SigsyncError(Exception):
    """A refusal or failure the admin can act on; ``admin_message`` says what and why."""

    admin_message: str = "Sigsync could not do that."

    def __init__(self, message: str = "", *, admin_message: str | None = None) -> None:
        # A class with its own admin_message raises with a technical message (for logs); one without it
        # raises with the admin's words.
        text = admin_message or (message if type(self).admin_message == SigsyncError.admin_message else "")
        super().__init__(message or text or type(self).admin_message)
        self.admin_message = text or type(self).admin_message


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
