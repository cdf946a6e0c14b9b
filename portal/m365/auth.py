"""Tokens for Microsoft Graph: MSAL per connection, with the token cache encrypted in the database.

Two modes, as on Connection.mode:
- "app": client credentials (application permissions, admin-consented once per tenant);
- "delegated": an admin signed in with the auth-code flow; MSAL refreshes with the stored refresh token.

Network failures reaching the sign-in service surface as GraphUnavailable, refusals as
ConsentRequired (someone must consent again) or TokenError (our app registration is wrong).
Tokens and secrets are never logged.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Callable, Mapping
from typing import Any, Protocol
from urllib.parse import urlencode

import msal
import requests
from msal.exceptions import MsalServiceError

from config import Config
from portal.m365.crypto import TokenCipher
from portal.m365.errors import (
    ConsentFlowError,
    ConsentRequired,
    GraphUnavailable,
    M365Error,
    TokenCacheUnreadable,
    TokenError,
    token_failure,
)
from portal.m365.transport import PinnedSession, identity_session

log = logging.getLogger(__name__)

GRAPH_APP_SCOPES = ["https://graph.microsoft.com/.default"]
# MSAL adds openid, profile and offline_access itself (and refuses them if passed).
DELEGATED_SCOPES = ["User.Read.All", "Group.Read.All"]
FLOW_TENANT_KEY = "sigsync_tenant"  # which authority began the flow, so the code is redeemed at the same one


class ConnectionLike(Protocol):
    """What TokenProvider needs of a Connection row (or a stand-in)."""

    tenant_id: str
    mode: str
    token_cache: bytes | None


def build_application(
    config: Config, tenant: str, cache: msal.TokenCache | None = None, http: PinnedSession | None = None
) -> msal.ConfidentialClientApplication:
    """An MSAL confidential client for one tenant, trusting Config.ca_bundle, without instance discovery."""
    if not config.ms_client_id or not config.ms_client_secret:
        raise TokenError("not_configured", "MS_CLIENT_ID and MS_CLIENT_SECRET must be set.")
    if not tenant:
        raise ConsentRequired("the connection has no Microsoft 365 tenant id")
    try:
        # The constructor fetches the authority's OpenID configuration: a network call.
        return msal.ConfidentialClientApplication(
            config.ms_client_id,
            client_credential=config.ms_client_secret,
            authority=f"{config.ms_authority_host}/{tenant}",
            instance_discovery=False,  # no login.microsoftonline.com calls: works against any HTTPS authority
            http_client=http or identity_session(config),
            token_cache=cache,
        )
    except requests.RequestException as exc:
        raise _unreachable(exc) from None
    except (ValueError, RuntimeError) as exc:
        # MSAL raises these for an unknown tenant or a non-HTTPS/odd authority; its text holds no secrets.
        raise TokenError("invalid_authority", f"tenant {tenant!r} at {config.ms_authority_host}: {exc}") from None


class TokenProvider:
    """Access tokens for one connection; the encrypted cache is written back to ``connection.token_cache``.

    Not thread-safe: one provider per sync run (or per request), like the connection row it writes to.
    """

    def __init__(
        self,
        config: Config,
        connection: ConnectionLike,
        *,
        on_cache_changed: Callable[[bytes], None] | None = None,
    ) -> None:
        self._config = config
        self._connection = connection
        self._cipher = TokenCipher(config.token_encryption_key)
        self._on_cache_changed = on_cache_changed
        self._cache = msal.SerializableTokenCache()
        self._app: msal.ConfidentialClientApplication | None = None
        self._http = identity_session(config)
        self._load_cache()

    @property
    def mode(self) -> str:
        return self._connection.mode

    def access_token(self, force_refresh: bool = False) -> str:
        """A valid Graph access token, refreshed first when ``force_refresh`` (after a 401)."""
        app = self._application()
        try:
            if self.mode == "app":
                result = self._app_token(app, force_refresh)
            elif self.mode == "delegated":
                result = self._delegated_token(app, force_refresh)
            else:
                raise TokenError("invalid_mode", f"connection mode {self.mode!r} is neither 'app' nor 'delegated'")
        except requests.RequestException as exc:
            raise _unreachable(exc) from None
        except MsalServiceError as exc:  # MSAL raises this on a 5xx from the token endpoint
            raise GraphUnavailable(1, f"Microsoft sign-in answered an error ({exc})") from None
        except json.JSONDecodeError:
            # Entra throttles with a plain-text 429, which MSAL tries to read as JSON.
            status = self._http.last_status
            problem = "is throttling Sigsync" if status == 429 else "gave an answer that isn't JSON"
            raise GraphUnavailable(1, f"Microsoft sign-in {problem} (HTTP {status})") from None
        finally:
            self._save_cache()
        if "access_token" not in result:
            raise _failure(result)
        return str(result["access_token"])

    def _app_token(self, app: msal.ConfidentialClientApplication, force_refresh: bool) -> dict:
        if force_refresh:
            # acquire_token_for_client refuses force_refresh; dropping cached ATs has the same effect.
            for item in list(self._cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN)):
                self._cache.remove_at(item)
        return app.acquire_token_for_client(GRAPH_APP_SCOPES)

    def _delegated_token(self, app: msal.ConfidentialClientApplication, force_refresh: bool) -> dict:
        account = self._account(app)
        result = app.acquire_token_silent_with_error(DELEGATED_SCOPES, account, force_refresh=force_refresh)
        if result is None:
            raise ConsentRequired("the stored sign-in has no usable refresh token")
        return result

    def _account(self, app: msal.ConfidentialClientApplication) -> dict:
        accounts = app.get_accounts()
        wanted = (getattr(self._connection, "connected_by", "") or "").lower()
        for account in accounts:
            if wanted and str(account.get("username", "")).lower() == wanted:
                return account
        if not accounts:
            raise ConsentRequired("no signed-in administrator is stored for this connection")
        return accounts[0]

    def _application(self) -> msal.ConfidentialClientApplication:
        if self._app is None:
            self._app = build_application(self._config, self._connection.tenant_id, self._cache, self._http)
        return self._app

    def _load_cache(self) -> None:
        blob = self._connection.token_cache
        if not blob:
            return
        try:
            self._cache.deserialize(self._cipher.decrypt(blob))
        except TokenCacheUnreadable:
            if self.mode != "app":
                raise
            # App-only tokens are re-obtainable with the client secret: start afresh, the key change is logged.
            log.warning("token cache of an app-mode connection is unreadable with the current key; starting afresh")

    def _save_cache(self) -> None:
        if not self._cache.has_state_changed:
            return
        blob = self._cipher.encrypt(self._cache.serialize())  # serialize() resets has_state_changed
        self._connection.token_cache = blob
        if self._on_cache_changed is not None:
            self._on_cache_changed(blob)


def begin_consent(
    config: Config, redirect_uri: str, tenant: str = "organizations", *, response_mode: str = "query"
) -> dict[str, Any]:
    """Start the admin's sign-in (auth code + PKCE); keep the returned flow in the session, send them to auth_uri."""
    app = build_application(config, tenant)
    with warnings.catch_warnings():
        # MSAL nudges toward form_post, but a cross-site POST back carries no SameSite=Lax session cookie,
        # so the flow kept in the session would be lost; PKCE and state protect the code in the query.
        warnings.filterwarnings("ignore", message="response_mode='form_post' is recommended", category=UserWarning)
        flow = app.initiate_auth_code_flow(DELEGATED_SCOPES, redirect_uri=redirect_uri, response_mode=response_mode)
    if "error" in flow:
        raise _failure(flow)
    flow[FLOW_TENANT_KEY] = tenant
    return flow


def finish_consent(config: Config, flow: Mapping[str, Any], query_params: Mapping[str, str]) -> tuple[str, bytes, str]:
    """Redeem the redirect's code: (tenant_id, encrypted token cache, signed-in user's name)."""
    if not flow or not flow.get("state"):
        raise ConsentFlowError("no sign-in was started in this browser session (or it expired)")
    flow = dict(flow)  # MSAL pops keys from the flow; the caller's copy stays intact
    tenant = str(flow.pop(FLOW_TENANT_KEY, "organizations"))
    cache = msal.SerializableTokenCache()
    app = build_application(config, tenant, cache)
    try:
        result = app.acquire_token_by_auth_code_flow(flow, dict(query_params))
    except ValueError:
        # MSAL's text would echo both state values; the admin only needs to know to start again.
        raise ConsentFlowError("the sign-in answer does not belong to the sign-in Sigsync started") from None
    except requests.RequestException as exc:
        raise _unreachable(exc) from None
    if "error" in result:
        raise _failure(result)
    claims = result.get("id_token_claims") or {}
    tenant_id = str(claims.get("tid") or _tenant_from_accounts(app))
    user = str(claims.get("preferred_username") or claims.get("email") or claims.get("name") or "")
    log.info("Microsoft 365 consent completed for tenant %s by %s", tenant_id, user or "an unnamed user")
    return tenant_id, TokenCipher(config.token_encryption_key).encrypt(cache.serialize()), user


def admin_consent_url(config: Config, tenant: str, redirect_uri: str, state: str) -> str:
    """Where to send a tenant admin to grant Sigsync's application permissions (app mode)."""
    query = urlencode(
        {
            "client_id": config.ms_client_id,
            "scope": GRAPH_APP_SCOPES[0],
            "redirect_uri": redirect_uri,
            "state": state,
        }
    )
    return f"{config.ms_authority_host}/{tenant}/v2.0/adminconsent?{query}"


def finish_admin_consent(query_params: Mapping[str, str], expected_state: str) -> str:
    """Check the admin-consent redirect and return the consenting tenant's id."""
    if not expected_state or query_params.get("state") != expected_state:
        raise ConsentFlowError("the consent answer does not belong to the request Sigsync started")
    if query_params.get("error"):
        raise token_failure(
            {"error": query_params["error"], "error_description": query_params.get("error_description", "")}
        )
    tenant = query_params.get("tenant", "")
    if str(query_params.get("admin_consent", "")).lower() != "true" or not tenant:
        raise ConsentRequired("Microsoft did not confirm the administrator's consent")
    return tenant


def _tenant_from_accounts(app: msal.ConfidentialClientApplication) -> str:
    for account in app.get_accounts():
        home = str(account.get("home_account_id", ""))
        if "." in home:
            return home.split(".", 1)[1]
    raise ConsentRequired("Microsoft's answer did not say which tenant signed in")


def _failure(result: Mapping[str, Any]) -> M365Error:
    error = str(result.get("error", ""))
    if error in ("temporarily_unavailable", "server_error"):
        return GraphUnavailable(1, f"Microsoft sign-in answered {error}")
    return token_failure(result)


def _unreachable(exc: requests.RequestException) -> GraphUnavailable:
    if isinstance(exc, requests.exceptions.SSLError):
        return GraphUnavailable(1, "the sign-in server's TLS certificate is not trusted (check REQUESTS_CA_BUNDLE)")
    return GraphUnavailable(1, f"Microsoft sign-in could not be reached ({type(exc).__name__})")
