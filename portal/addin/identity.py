"""The names the add-in, the portal and Entra ID must agree on.

Sigsync's own app registration (MS_CLIENT_ID) exposes one delegated API scope. The add-in asks
Entra ID for an access token for that scope with nested app authentication; the API accepts only
v2 access tokens whose audience is the client id and whose `scp` holds the scope.
"""

from __future__ import annotations

SCOPE_NAME = "access_as_user"


def application_id_uri(client_id: str) -> str:
    """The Application ID URI of Sigsync's exposed API (Entra ID's default form: api://<client id>)."""
    return f"api://{client_id}"


def api_scope(client_id: str) -> str:
    """The full scope the add-in requests: api://<client id>/access_as_user."""
    return f"{application_id_uri(client_id)}/{SCOPE_NAME}"


def v2_issuer(authority_host: str, tenant_id: str) -> str:
    """The `iss` of a v2 access token for a tenant: <authority>/<tenant id>/v2.0."""
    return f"{authority_host.rstrip('/')}/{tenant_id}/v2.0"
