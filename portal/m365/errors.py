"""Typed failures of the Microsoft side, each with words an admin can act on.

Every error carries ``admin_message``: what happened and what to do, without
tokens, secrets or stack traces, so the engine can store it on the run and the
portal can show it as is.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from portal.errors import SigsyncError

# Token-endpoint error codes that mean "a person must sign in or consent again".
_CONSENT_ERRORS = frozenset(
    {
        "invalid_grant",
        "interaction_required",
        "consent_required",
        "unauthorized_client",
        "access_denied",
        "permission_denied",
    }
)


class M365Error(SigsyncError):
    """Base of every error raised by portal.m365 (one branch of the ``SigsyncError`` family)."""

    admin_message: str = "Sigsync could not talk to Microsoft 365."


class GraphError(M365Error):
    """Graph answered with an error that retrying will not fix."""

    def __init__(
        self,
        status: int,
        code: str = "",
        message: str = "",
        request_id: str = "",
        *,
        admin_message: str | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id
        detail = f"HTTP {status} {code}: {message}".strip()
        text = admin_message or (
            f"Microsoft Graph refused a request ({detail})."
            + (f" Quote request id {request_id} if you contact Microsoft support." if request_id else "")
        )
        super().__init__(f"{detail} (request-id {request_id or '-'})", admin_message=text)


class GraphThrottled(GraphError):
    """Graph kept answering 429 until the retry budget ran out."""

    def __init__(self, attempts: int, waited: float, request_id: str = "") -> None:
        super().__init__(
            429,
            "TooManyRequests",
            f"still throttled after {attempts} attempts and {waited:.0f} s of waiting",
            request_id,
            admin_message=(
                "Microsoft Graph asked Sigsync to slow down (HTTP 429) for longer than Sigsync waits in one run, "
                f"so the sync stopped after {attempts} attempts and {waited:.0f} seconds. Nothing was lost: "
                "the next scheduled run continues. If this keeps happening, another application may be using "
                "up your tenant's Graph quota."
            ),
        )


class GraphUnavailable(GraphError):
    """Graph (or the network to it) failed with 5xx or connection errors until the budget ran out."""

    def __init__(self, attempts: int, last_problem: str, status: int = 503, request_id: str = "") -> None:
        super().__init__(
            status,
            "serviceNotAvailable",
            f"unavailable after {attempts} attempts; last: {last_problem}",
            request_id,
            admin_message=(
                f"Microsoft 365 could not be reached or was unavailable ({last_problem}) after {attempts} attempts. "
                "This is usually temporary: the next run retries. Check your server's network or Microsoft's "
                "service status if it persists."
            ),
        )


class DeltaExpired(GraphError):
    """The stored delta link is no longer valid; the engine must run a full sync."""

    def __init__(self, status: int, code: str, message: str = "", request_id: str = "", location: str = "") -> None:
        self.location = location  # the 410 reset's fresh starting URL, when Graph sends one
        super().__init__(
            status,
            code,
            message,
            request_id,
            admin_message=(
                "Microsoft's change-tracking link for this connection expired or was reset, so the next run "
                "reads the whole directory once again. Nothing to do."
            ),
        )


class ConsentRequired(M365Error):
    """The connection can no longer get a token or lacks a permission: an admin must consent again."""

    def __init__(self, reason: str, *, status: int | None = None, code: str = "") -> None:
        self.reason = reason
        self.status = status
        self.code = code
        super().__init__(
            f"consent required: {reason}",
            admin_message=(
                f"Sigsync can no longer read your Microsoft 365 directory ({reason}). "
                "A Microsoft 365 administrator needs to reconnect on the Connection page and grant "
                "Sigsync's permissions (Read all users' full profiles, Read all groups) again."
            ),
        )


class TokenError(M365Error):
    """Microsoft's sign-in service returned an error that is not about consent."""

    def __init__(self, error: str, description: str = "", codes: tuple[int, ...] = ()) -> None:
        self.error = error
        self.description = description
        self.codes = codes
        code_text = f" (AADSTS{codes[0]})" if codes else ""
        super().__init__(
            f"{error}{code_text}: {description}",
            admin_message=(
                f"Microsoft's sign-in service refused Sigsync's request: {error}{code_text}. {description} "
                "Check that MS_CLIENT_ID and MS_CLIENT_SECRET belong to a valid, unexpired app registration."
            ).strip(),
        )


class ConsentFlowError(M365Error):
    """The browser came back from Microsoft with an answer that doesn't match the sign-in we started."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(
            f"consent flow: {reason}",
            admin_message=(
                f"Connecting to Microsoft 365 did not complete: {reason}. This happens when the sign-in page "
                "was left open too long or finished in another tab. Start connecting again."
            ),
        )


class TokenCacheUnreadable(M365Error):
    """The stored token cache can't be decrypted with the configured key."""

    def __init__(self) -> None:
        super().__init__(
            "token cache cannot be decrypted with TOKEN_ENCRYPTION_KEY",
            admin_message=(
                "Sigsync can't read the stored Microsoft 365 sign-in: TOKEN_ENCRYPTION_KEY differs from the key "
                "it was saved with. Restore the previous key, or reconnect Microsoft 365 on the Connection page."
            ),
        )


def token_failure(result: Mapping[str, Any]) -> ConsentRequired | TokenError:
    """Turn an MSAL error dict into ConsentRequired or TokenError, keeping only safe fields."""
    error = str(result.get("error") or "unknown_error")
    description = _first_line(str(result.get("error_description") or ""))
    codes = tuple(int(c) for c in result.get("error_codes") or () if str(c).isdigit())
    if error in _CONSENT_ERRORS:
        return ConsentRequired(f"{error}: {description}" if description else error, code=error)
    return TokenError(error, description, codes)


class ReadOnlyViolation(AssertionError):
    """A code path tried to send Microsoft something other than a read: always a bug."""


def _first_line(text: str, limit: int = 300) -> str:
    """AADSTS descriptions end with trace/correlation ids and timestamps; keep the human part."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line[:limit]
