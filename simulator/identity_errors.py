"""Entra ID's error answers: the AADSTS JSON bodies of /token and the error redirects of /authorize."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field

ERROR_URI = "{base}/error?code={code}"


@dataclass(eq=False)  # exceptions stay hashable
class AadstsError(Exception):
    """One AADSTS error; raised by the grant handlers, rendered by the blueprint."""

    error: str  # the OAuth error, e.g. "invalid_grant"; clients key on this
    code: int  # the AADSTS number
    message: str  # the text after "AADSTSnnnn: "
    status: int = 400
    suberror: str | None = None
    trace_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    correlation_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    def __str__(self) -> str:
        return f"AADSTS{self.code}: {self.message}"

    @property
    def timestamp(self) -> str:
        """Entra's timestamp format, e.g. "2021-10-29 13:56:27Z"."""
        return self.at.strftime("%Y-%m-%d %H:%M:%SZ")

    def description(self) -> str:
        """The error_description: message plus the Trace ID / Correlation ID / Timestamp lines."""
        return (
            f"{self}\r\nTrace ID: {self.trace_id}\r\nCorrelation ID: {self.correlation_id}"
            f"\r\nTimestamp: {self.timestamp}"
        )

    def body(self, base_url: str) -> dict:
        """The JSON body of a /token error, key for key as Entra sends it."""
        body = {
            "error": self.error,
            "error_description": self.description(),
            "error_codes": [self.code],
            "timestamp": self.timestamp,
            "trace_id": self.trace_id,
            "correlation_id": self.correlation_id,
            "error_uri": ERROR_URI.format(base=base_url, code=self.code),
        }
        if self.suberror:
            body["suberror"] = self.suberror
        return body

    def redirect_params(self, state: str | None) -> dict[str, str]:
        """The query of an error redirect to the app's redirect_uri."""
        params = {"error": self.error, "error_description": self.description()}
        if self.suberror:
            params["error_subcode"] = self.suberror
        if state is not None:
            params["state"] = state
        return params


# -- the errors the simulator produces, one factory each; texts as Entra words them ----------


def tenant_not_found(tenant: str, error: str = "invalid_request") -> AadstsError:
    return AadstsError(
        error, 90002,
        f"Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are "
        "signing into the correct cloud. Check with your subscription administrator, this may "
        "happen if there are no active subscriptions for the tenant.",
    )


def invalid_tenant_identifier(tenant: str) -> AadstsError:
    return AadstsError(
        "invalid_request", 900023,
        f"Specified tenant identifier '{tenant}' is neither a valid DNS name, nor a valid external domain.",
    )


def missing_parameter(name: str) -> AadstsError:
    return AadstsError("invalid_request", 900144, f"The request body must contain the following parameter: '{name}'.")


def unknown_client(client_id: str, tenant_name: str) -> AadstsError:
    return AadstsError(
        "unauthorized_client", 700016,
        f"Application with identifier '{client_id}' was not found in the directory '{tenant_name}'. "
        "This can happen if the application has not been installed by the administrator of the "
        "tenant or consented to by any user in the tenant. You may have sent your authentication "
        "request to the wrong tenant.",
    )


def missing_client_secret() -> AadstsError:
    return AadstsError(
        "invalid_client", 7000218,
        "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        status=401,
    )


def invalid_client_secret(client_id: str) -> AadstsError:
    return AadstsError(
        "invalid_client", 7000215,
        "Invalid client secret provided. Ensure the secret being sent in the request is the client "
        f"secret value, not the client secret ID, for a secret added to app '{client_id}'.",
        status=401,
    )


def unsupported_grant_type(grant_type: str) -> AadstsError:
    return AadstsError("unsupported_grant_type", 70003, f"The app requested an unsupported grant type '{grant_type}'.")


def invalid_scope(scope: str) -> AadstsError:
    return AadstsError(
        "invalid_scope", 70011,
        f"The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid.",
    )


def client_credentials_needs_default(scope: str) -> AadstsError:
    return AadstsError(
        "invalid_scope", 1002012,
        f"The provided value for scope {scope} is not valid. Client credential flows must have a "
        "scope value with /.default suffixed to the resource identifier (application ID URI).",
    )


def malformed_grant() -> AadstsError:
    return AadstsError("invalid_grant", 9002313, "Invalid request. Request is malformed or invalid.")


def code_expired() -> AadstsError:
    return AadstsError(
        "invalid_grant", 70008,
        "The provided authorization code or refresh token has expired due to inactivity. Send a "
        "new interactive authorization request for this user and resource.",
    )


def code_redeemed() -> AadstsError:
    return AadstsError(
        "invalid_grant", 54005,
        "OAuth2 Authorization code was already redeemed, please retry with a new valid code or use "
        "an existing refresh token.",
    )


def code_for_other_client() -> AadstsError:
    return AadstsError(
        "invalid_grant", 70000,
        "The request was denied because one or more scopes requested are unauthorized or expired. "
        "The user must first sign in and grant the client application access to the requested scope.",
    )


def redirect_uri_differs(sent: str, at_authorize: str) -> AadstsError:
    return AadstsError(
        "invalid_grant", 500112,
        f"The reply address '{sent}' does not match the reply address '{at_authorize}' provided "
        "when requesting Authorization code.",
    )


def pkce_mismatch() -> AadstsError:
    return AadstsError(
        "invalid_grant", 501481,
        "The Code_Verifier does not match the code_challenge supplied in the authorization request.",
    )


def refresh_token_revoked(issued: float, valid_from: float) -> AadstsError:
    return AadstsError(
        "invalid_grant", 50173,
        "The provided grant has expired due to it being revoked, a fresh auth token is needed. The "
        "user might have changed or reset their password. The grant was issued on "
        f"'{_iso(issued)}' and the TokensValidFrom date (before which tokens are not valid) for "
        f"this user is '{_iso(valid_from)}'.",
        suberror="bad_token",
    )


def refresh_token_inactive(issued: float, inactive_seconds: int) -> AadstsError:
    days, rest = divmod(inactive_seconds, 86400)
    hours, rest = divmod(rest, 3600)
    return AadstsError(
        "invalid_grant", 700082,
        f"The refresh token has expired due to inactivity. The token was issued on '{_iso(issued)}' "
        f"and was inactive for {days}.{hours:02d}:{rest // 60:02d}:{rest % 60:02d}.",
    )


def refresh_token_other_client() -> AadstsError:
    return AadstsError(
        "invalid_grant", 70000,
        "Provided grant is invalid or malformed. The refresh token was issued to a different client.",
        suberror="client_mismatch",
    )


def consent_missing(client_id: str, app_name: str) -> AadstsError:
    return AadstsError(
        "invalid_grant", 65001,
        f"The user or administrator has not consented to use the application with ID '{client_id}' "
        f"named '{app_name}'. Send an interactive authorization request for this user and resource.",
        suberror="consent_required",
    )


def redirect_uri_unregistered(redirect_uri: str, client_id: str) -> AadstsError:
    return AadstsError(
        "invalid_request", 50011,
        f"The redirect URI '{redirect_uri}' specified in the request does not match the redirect "
        f"URIs configured for the application '{client_id}'. Make sure the redirect URI sent in the "
        "request matches one added to your application in the Azure portal. Navigate to "
        "https://aka.ms/redirectUriMismatchError to learn more about how to fix this.",
    )


def unsupported_response_type(response_type: str) -> AadstsError:
    return AadstsError(
        "unsupported_response_type", 700054,
        f"response_type '{response_type}' is not enabled for the application.",
    )


def invalid_code_challenge_method(method: str) -> AadstsError:
    return AadstsError(
        "invalid_request", 501491,
        f"Invalid code_challenge_method '{method}'. Supported values are 'S256' and 'plain'.",
    )


def login_required() -> AadstsError:
    return AadstsError(
        "login_required", 50058,
        "A silent sign-in request was sent but no user is signed in.",
    )


def user_declined() -> AadstsError:
    return AadstsError("access_denied", 65004, "User declined to consent to access the app.", suberror="cancel")


def admin_declined() -> AadstsError:
    return AadstsError("consent_required", 65004, "The resource owner or authorization server denied the request.")


def _iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")
