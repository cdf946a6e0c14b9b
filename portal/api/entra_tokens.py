"""Entra ID v2 access tokens for Sigsync's own API, checked as Microsoft documents for resource servers.

The Outlook add-in gets the token with nested app authentication for ``api://<MS_CLIENT_ID>/access_as_user``.
A token is accepted only when all of this holds:

- it is a JWT signed with RS256 (``algorithms=["RS256"]``: ``none`` and HS256 are refused) by a key
  of the issuer's JWKS, found by ``kid``. The JWKS location comes from the tenant's OpenID
  configuration (``<MS_AUTHORITY_HOST>/<tid>/v2.0/.well-known/openid-configuration``), so tests
  talk to the simulator. Keys are cached; an unknown ``kid`` refreshes them (Entra rolls its keys
  over), at most once per MIN_REFRESH_INTERVAL per issuer, so forged kids cannot make us hammer Microsoft;
- ``iss`` is the tenant's v2 issuer, ``aud`` is MS_CLIENT_ID (v2 tokens carry the client id GUID),
  ``ver`` is "2.0", ``scp`` holds ``access_as_user`` (an ID token has no ``scp`` and is refused), ``azp``
  (the app that asked for the token) is MS_CLIENT_ID too — the add-in signs in as Sigsync's own app,
  ``exp``/``nbf`` hold with LEEWAY seconds of clock skew, and ``tid``/``oid`` are present.

Which tenants are worth asking Microsoft about is the caller's decision (portal.api.me looks up the
token's unverified ``tid`` among connected tenants first). Nothing here logs or returns the token.
"""

from __future__ import annotations

import re
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import jwt
import requests
from jwt import PyJWK, PyJWKClient
from jwt.exceptions import PyJWKClientConnectionError, PyJWKClientError

from portal.addin.identity import SCOPE_NAME, v2_issuer
from portal.m365.transport import PinnedSession

LEEWAY = 60  # seconds of clock skew allowed on exp and nbf
KEYS_MAX_AGE = 24 * 3600  # a JWKS is fetched again after a day even without an unknown kid
METADATA_MAX_AGE = 24 * 3600
# After Entra ID's metadata could not be read, requests for that tenant are answered 503 from memory for this
# long: tenant ids are public, so anyone could otherwise make every request wait on an outbound fetch.
METADATA_FAILURE_MEMORY = 30
MIN_REFRESH_INTERVAL = 300  # seconds between refreshes forced by an unknown kid, per issuer
MAX_TOKEN_CHARS = 16_000  # Entra's access tokens are a few kB; anything far larger is not one
REQUIRED_CLAIMS = ["exp", "nbf", "iat", "iss", "aud", "tid", "oid", "ver"]
_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


class InvalidToken(Exception):
    """The token is refused (401); the message says why, in words safe to send back and log."""


class IdentityUnavailable(Exception):
    """Entra ID's metadata or keys could not be fetched (503): the token may be fine."""


@dataclass(frozen=True)
class EntraUser:
    """Who a valid token speaks for."""

    tenant_id: str
    object_id: str  # the Graph user id: what the sync stores as Employee.m365_id
    name: str
    username: str


def unverified_tenant(token: str) -> str:
    """The token's ``tid`` (lower case) before any check: only to pick the issuer and refuse strangers early."""
    if not token or len(token) > MAX_TOKEN_CHARS:
        raise InvalidToken("The token is missing or too long.")
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise InvalidToken("The token is not a JWT.") from None
    if header.get("alg") != "RS256":
        raise InvalidToken("The token must be signed with RS256.")
    if not isinstance(header.get("kid"), str) or not header["kid"]:
        raise InvalidToken("The token names no signing key (kid).")
    tid = claims.get("tid")
    if not isinstance(tid, str) or not _GUID.fullmatch(tid):
        raise InvalidToken("The token names no tenant (tid).")
    return tid.lower()


class _IssuerKeys:
    """One issuer's JWKS, through PyJWKClient, with rate-limited refreshes on an unknown kid."""

    def __init__(self, jwks_uri: str, ssl_context: ssl.SSLContext, timeout: float,
                 clock: Callable[[], float]) -> None:
        self.client = PyJWKClient(jwks_uri, cache_keys=False, cache_jwk_set=True, lifespan=KEYS_MAX_AGE,
                                  headers={"User-Agent": "Sigsync"}, timeout=timeout, ssl_context=ssl_context)
        self._clock = clock
        self._refreshed_at: float | None = None
        self._lock = threading.Lock()

    def key(self, kid: str) -> PyJWK:
        found = _find(self._keys(refresh=False), kid)
        if found is not None:
            return found
        with self._lock:
            now = self._clock()
            if self._refreshed_at is not None and now - self._refreshed_at < MIN_REFRESH_INTERVAL:
                raise InvalidToken("The token is signed with a key Entra ID does not list (unknown kid).")
            self._refreshed_at = now
        found = _find(self._keys(refresh=True), kid)
        if found is None:
            raise InvalidToken("The token is signed with a key Entra ID does not list (unknown kid).")
        return found

    def _keys(self, refresh: bool) -> list[PyJWK]:
        try:
            return self.client.get_signing_keys(refresh=refresh)
        except PyJWKClientConnectionError as exc:
            raise IdentityUnavailable(f"Entra ID's signing keys could not be fetched ({type(exc).__name__}).") from None
        except PyJWKClientError:
            return []  # a JWKS without signing keys: every kid is unknown


def _find(keys: list[PyJWK], kid: str) -> PyJWK | None:
    return next((k for k in keys if k.key_id == kid), None)


class TokenValidator:
    """Checks access tokens for one app registration; keeps each tenant's metadata and keys cached."""

    def __init__(self, authority_host: str, client_id: str, ca_bundle: str = "", timeout: float = 10,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.authority_host = authority_host.rstrip("/")
        self.client_id = client_id
        self.timeout = timeout
        self.clock = clock
        self._ca_bundle = ca_bundle
        self._ssl = ssl.create_default_context(cafile=ca_bundle or None)
        self._metadata: dict[str, tuple[float, str]] = {}  # tenant -> (fetched at, jwks_uri)
        self._metadata_failed: dict[str, tuple[float, str]] = {}  # tenant -> (failed at, why)
        self._keys: dict[str, _IssuerKeys] = {}  # jwks_uri -> keys
        self._lock = threading.Lock()

    def validate(self, token: str, tenant_id: str) -> EntraUser:
        """The user a valid token names, for the tenant its unverified ``tid`` gave; InvalidToken if not."""
        if not self.client_id:
            raise IdentityUnavailable("MS_CLIENT_ID is not set: Sigsync cannot check Entra ID tokens.")
        issuer = v2_issuer(self.authority_host, tenant_id)
        kid = jwt.get_unverified_header(token)["kid"]
        key = self._issuer_keys(tenant_id, issuer).key(kid)
        try:
            claims = jwt.decode(token, key.key, algorithms=["RS256"], audience=self.client_id, issuer=issuer,
                                leeway=LEEWAY, options={"require": REQUIRED_CLAIMS})
        except jwt.ExpiredSignatureError:
            raise InvalidToken("The token has expired.") from None
        except jwt.ImmatureSignatureError:
            raise InvalidToken("The token is not valid yet (nbf or iat in the future).") from None
        except jwt.InvalidAudienceError:
            raise InvalidToken("The token is for another application (aud).") from None
        except jwt.InvalidIssuerError:
            raise InvalidToken("The token comes from another issuer (iss).") from None
        except jwt.InvalidSignatureError:
            raise InvalidToken("The token's signature does not verify.") from None
        except jwt.MissingRequiredClaimError as exc:
            raise InvalidToken(f"The token has no {exc.claim} claim.") from None
        except jwt.PyJWTError:
            raise InvalidToken("The token is not valid.") from None
        if claims["ver"] != "2.0":
            raise InvalidToken("Only v2.0 access tokens are accepted (ver).")
        if str(claims["tid"]).lower() != tenant_id:
            raise InvalidToken("The token's tenant (tid) does not match its issuer.")
        if SCOPE_NAME not in str(claims.get("scp") or "").split():
            raise InvalidToken(f"The token does not grant the {SCOPE_NAME} scope (scp): an access token for "
                               "Sigsync's API is needed, not an ID token or a token for another API.")
        if claims.get("azp") != self.client_id:  # the calling app: only Sigsync's own add-in asks for this API
            raise InvalidToken("The token was issued to another application (azp).")
        return EntraUser(tenant_id=tenant_id, object_id=str(claims["oid"]).lower(),
                         name=str(claims.get("name") or ""), username=str(claims.get("preferred_username") or ""))

    def _issuer_keys(self, tenant_id: str, issuer: str) -> _IssuerKeys:
        jwks_uri = self._jwks_uri(tenant_id, issuer)
        with self._lock:
            keys = self._keys.get(jwks_uri)
            if keys is None:
                keys = self._keys[jwks_uri] = _IssuerKeys(jwks_uri, self._ssl, self.timeout, lambda: self.clock())
            return keys

    def _jwks_uri(self, tenant_id: str, issuer: str) -> str:
        with self._lock:
            cached = self._metadata.get(tenant_id)
        if cached is not None and self.clock() - cached[0] < METADATA_MAX_AGE:
            return cached[1]
        with self._lock:
            failed = self._metadata_failed.get(tenant_id)
        if failed is not None and self.clock() - failed[0] < METADATA_FAILURE_MEMORY:
            if cached is not None:
                return cached[1]  # an older answer beats none while Entra ID is down
            raise IdentityUnavailable(failed[1])
        url = f"{self.authority_host}/{tenant_id}/v2.0/.well-known/openid-configuration"
        try:
            with PinnedSession(self._ca_bundle, (min(10.0, self.timeout), self.timeout)) as http:
                answer = http.get(url)
            answer.raise_for_status()
            metadata = answer.json()
        except (requests.RequestException, ValueError) as exc:
            why = f"Entra ID's OpenID configuration could not be read ({type(exc).__name__})."
            with self._lock:
                self._metadata_failed[tenant_id] = (self.clock(), why)
            if cached is not None:
                return cached[1]
            raise IdentityUnavailable(why) from None
        metadata = metadata if isinstance(metadata, dict) else {}
        jwks_uri = metadata.get("jwks_uri")
        if metadata.get("issuer") != issuer or not isinstance(jwks_uri, str) or not jwks_uri.startswith("https://"):
            raise IdentityUnavailable("Entra ID's OpenID configuration names another issuer or no https JWKS.")
        with self._lock:
            self._metadata[tenant_id] = (self.clock(), jwks_uri)
        return jwks_uri
