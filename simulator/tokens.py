"""Everything Entra ID has issued: authorization codes, access and refresh tokens, admin consent.

Tokens look like Microsoft's (JWT-shaped, with the usual claims) but are never verified
cryptographically: Graph looks them up here, the way a resource server checks a signature.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from simulator.state import SimulatorSettings

GRAPH_RESOURCE = "https://graph.microsoft.com"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
SIGN_IN_LIFETIME = 3600  # how long a sign-in page may stay open before Accept
# Expired entries are kept this long so Graph can still answer "expired" rather than "invalid".
_KEEP_EXPIRED = 24 * 3600
_SWEEP_EVERY = 1000


@dataclass(frozen=True)
class AccessGrant:
    """What a bearer token entitles its holder to; Graph checks permissions and expiry."""

    token: str
    client_id: str
    tenant_id: str
    kind: str  # "app" (client_credentials) or "delegated"
    permissions: frozenset[str]  # app roles or delegated scp, e.g. {"User.Read.All"}
    expires_at: float
    user_id: str | None = None

    def expired(self, now: float | None = None) -> bool:
        """True once the token's lifetime is over."""
        return (time.time() if now is None else now) >= self.expires_at


@dataclass(frozen=True)
class AuthorizationCode:
    """A code handed out at /authorize, redeemable once at /token."""

    code: str
    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]  # normalized, as granted (see identity_scopes)
    user_id: str
    nonce: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    issued_at: float
    expires_at: float
    redeemed: bool = False


@dataclass
class RefreshGrant:
    """One refresh token; Entra expires them after a window of inactivity, or revokes them."""

    token: str
    client_id: str
    user_id: str
    scopes: frozenset[str]  # everything the user consented to in this grant
    issued_at: float
    last_used_at: float
    revoked_at: float | None = None


@dataclass(frozen=True)
class UserClaims:
    """The signed-in user as tokens describe them."""

    oid: str
    upn: str
    name: str
    given_name: str = ""
    family_name: str = ""


def b64url(data: bytes) -> str:
    """Padding-less base64url, as JWTs and client_info use it."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def client_info(uid: str, utid: str) -> str:
    """The client_info Entra returns when asked (client_info=1): base64url of {"uid","utid"}."""
    return b64url(json.dumps({"uid": uid, "utid": utid}, separators=(",", ":")).encode())


def encode_jwt(claims: dict, header: dict | None = None) -> str:
    """A JWT-shaped string: real header and claims, random bytes where the signature goes."""
    head = header or {"typ": "JWT", "alg": "RS256", "kid": "sigsync-simulator"}
    parts = [json.dumps(head, separators=(",", ":")), json.dumps(claims, separators=(",", ":"))]
    return ".".join([*(b64url(p.encode()) for p in parts), b64url(secrets.token_bytes(64))])


def decode_jwt_claims(token: str) -> dict:
    """The claims of a JWT, without any validation (tests and tools only)."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


@dataclass
class _Issued:
    access: dict[str, AccessGrant] = field(default_factory=dict)
    refresh: dict[str, RefreshGrant] = field(default_factory=dict)
    codes: dict[str, AuthorizationCode] = field(default_factory=dict)
    sign_ins: dict[str, tuple[float, dict]] = field(default_factory=dict)


class TokenStore:
    """Thread-safe store of issued credentials, shared by the identity and Graph blueprints."""

    def __init__(self, settings: SimulatorSettings, clock: Callable[[], float] = time.time) -> None:
        self.settings = settings
        self.clock = clock
        self.admin_consent = settings.admin_consent_granted
        self._issued = _Issued()
        self._lock = threading.Lock()
        self._since_sweep = 0

    # -- what Graph needs ----------------------------------------------------------------

    def grant_for(self, bearer_token: str) -> AccessGrant | None:
        """The grant behind a bearer token, or None when this simulator never issued it."""
        with self._lock:
            return self._issued.access.get(bearer_token)

    def issue_app_token(
        self, client_id: str, permissions: Iterable[str], lifetime: int | None = None
    ) -> AccessGrant:
        """An app-only (client_credentials) access token carrying these app roles."""
        roles = sorted(set(permissions))
        claims = {"idtyp": "app", "roles": roles} if roles else {"idtyp": "app"}
        return self._issue_access(client_id, "app", roles, None, claims, lifetime, GRAPH_RESOURCE)

    def issue_user_token(
        self, client_id: str, user: UserClaims, scopes: Iterable[str], lifetime: int | None = None
    ) -> AccessGrant:
        """A delegated access token for a signed-in user, with these scopes as scp."""
        scp = sorted(set(scopes))
        claims = {
            "idtyp": "user", "scp": " ".join(scp), "amr": ["pwd"], "name": user.name,
            "given_name": user.given_name, "family_name": user.family_name,
            "upn": user.upn, "unique_name": user.upn, "ipaddr": "127.0.0.1",
        }
        return self._issue_access(client_id, "delegated", scp, user.oid, claims, lifetime, GRAPH_APP_ID)

    def expire_access_tokens(self) -> int:
        """Make every issued access token expired now (fault injection); returns how many."""
        now = self.clock()
        with self._lock:
            live = {t: g for t, g in self._issued.access.items() if g.expires_at > now}
            for token, grant in live.items():
                self._issued.access[token] = replace(grant, expires_at=now)
            return len(live)

    # -- authorization codes -------------------------------------------------------------

    def issue_code(self, **fields) -> AuthorizationCode:
        """A fresh single-use authorization code; fields as in AuthorizationCode."""
        now = self.clock()
        code = AuthorizationCode(
            code="1.A" + secrets.token_urlsafe(96), issued_at=now,
            expires_at=now + self.settings.auth_code_lifetime, **fields,
        )
        with self._lock:
            self._issued.codes[code.code] = code
            self._maybe_sweep(now)
        return code

    def peek_code(self, code: str) -> AuthorizationCode | None:
        """The code as issued (redeemed or not), or None when unknown."""
        with self._lock:
            return self._issued.codes.get(code)

    def redeem_code(self, code: str) -> bool:
        """Mark a code redeemed; False when it already was (concurrent double redemption)."""
        with self._lock:
            found = self._issued.codes.get(code)
            if found is None or found.redeemed:
                return False
            self._issued.codes[code] = replace(found, redeemed=True)
            return True

    # -- sign-in pages waiting for Accept or Cancel ---------------------------------------

    def hold_sign_in(self, request: dict) -> str:
        """Remember a validated /authorize or /adminconsent request; returns its `ctx` id."""
        ctx = secrets.token_urlsafe(24)
        now = self.clock()
        with self._lock:
            self._issued.sign_ins[ctx] = (now + SIGN_IN_LIFETIME, request)
            self._maybe_sweep(now)
        return ctx

    def sign_in(self, ctx: str) -> dict | None:
        """The held request behind a `ctx`, or None when unknown or too old."""
        with self._lock:
            held = self._issued.sign_ins.get(ctx)
        return held[1] if held and held[0] > self.clock() else None

    def finish_sign_in(self, ctx: str) -> None:
        """Forget a sign-in once it was accepted or cancelled."""
        with self._lock:
            self._issued.sign_ins.pop(ctx, None)

    # -- refresh tokens ------------------------------------------------------------------

    def issue_refresh_token(self, client_id: str, user_id: str, scopes: Iterable[str]) -> RefreshGrant:
        """A new refresh token for this user and client."""
        now = self.clock()
        grant = RefreshGrant(
            token="1.A" + secrets.token_urlsafe(160), client_id=client_id, user_id=user_id,
            scopes=frozenset(scopes), issued_at=now, last_used_at=now,
        )
        with self._lock:
            self._issued.refresh[grant.token] = grant
        return grant

    def refresh_grant(self, token: str) -> RefreshGrant | None:
        """The refresh grant behind a token, or None when unknown."""
        with self._lock:
            return self._issued.refresh.get(token)

    def refresh_state(self, grant: RefreshGrant) -> str:
        """"valid", "revoked" or "expired" (inactive longer than the refresh token lifetime)."""
        if grant.revoked_at is not None:
            return "revoked"
        if self.clock() - grant.last_used_at > self.settings.refresh_token_lifetime:
            return "expired"
        return "valid"

    def rotate(self, grant: RefreshGrant, scopes: Iterable[str] | None = None) -> RefreshGrant:
        """Redeem a refresh token: a new one is issued; the old one stays valid, as in Entra."""
        now = self.clock()
        with self._lock:
            grant.last_used_at = now
            if self.settings.single_use_refresh_tokens:
                grant.revoked_at = now
        return self.issue_refresh_token(grant.client_id, grant.user_id, scopes or grant.scopes)

    def revoke_refresh_tokens(self) -> int:
        """Revoke every live refresh token (like a password reset); returns how many."""
        now = self.clock()
        with self._lock:
            live = [g for g in self._issued.refresh.values() if g.revoked_at is None]
            for grant in live:
                grant.revoked_at = now
            return len(live)

    def expire_refresh_tokens(self) -> int:
        """Age every refresh token past its inactivity window (fault injection); returns how many."""
        past = self.clock() - self.settings.refresh_token_lifetime - 1
        with self._lock:
            for grant in self._issued.refresh.values():
                grant.last_used_at = min(grant.last_used_at, past)
            return len(self._issued.refresh)

    # -- internals -----------------------------------------------------------------------

    def _issue_access(self, client_id, kind, permissions, user_id, extra, lifetime, audience) -> AccessGrant:
        now = self.clock()
        seconds = self.settings.access_token_lifetime if lifetime is None else lifetime
        tid = self.settings.tenant_id
        claims = {
            "aud": audience, "iss": f"https://sts.windows.net/{tid}/",
            "iat": int(now), "nbf": int(now), "exp": int(now + seconds),
            "app_displayname": self.settings.app_display_name, "appid": client_id, "appidacr": "1",
            "idp": f"https://sts.windows.net/{tid}/", "oid": user_id or _service_principal_id(client_id),
            "sub": user_id or _service_principal_id(client_id), "tenant_region_scope": "WW",
            "tid": tid, "uti": b64url(secrets.token_bytes(16)), "ver": "1.0", **extra,
        }
        header = {"typ": "JWT", "nonce": b64url(secrets.token_bytes(32)), "alg": "RS256",
                  "x5t": "sigsync-simulator", "kid": "sigsync-simulator"}
        grant = AccessGrant(
            token=encode_jwt(claims, header), client_id=client_id, tenant_id=tid, kind=kind,
            permissions=frozenset(permissions), expires_at=now + seconds, user_id=user_id,
        )
        with self._lock:
            self._issued.access[grant.token] = grant
            self._maybe_sweep(now)
        return grant

    def _maybe_sweep(self, now: float) -> None:
        # Called with the lock held: long runs issue many tokens, so forget old ones now and then.
        self._since_sweep += 1
        if self._since_sweep < _SWEEP_EVERY:
            return
        self._since_sweep = 0
        cutoff = now - _KEEP_EXPIRED
        issued = self._issued
        issued.access = {t: g for t, g in issued.access.items() if g.expires_at > cutoff}
        issued.codes = {c: v for c, v in issued.codes.items() if v.expires_at > cutoff}
        issued.sign_ins = {c: v for c, v in issued.sign_ins.items() if v[0] > now}


def _service_principal_id(client_id: str) -> str:
    # A stable object id for the app's service principal in the tenant.
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"serviceprincipal:{client_id}"))
