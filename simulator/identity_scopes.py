"""Scopes as Entra ID reads them, and the words its consent page uses for each permission."""

from __future__ import annotations

from dataclasses import dataclass

from simulator import identity_errors as errors
from simulator.tokens import GRAPH_APP_ID, GRAPH_RESOURCE

OIDC_SCOPES = ("openid", "profile", "email", "offline_access")

# Consent-page wording (Graph permissions reference; the work-account consent page for OIDC).
OIDC_WORDING = {
    "openid": "Sign you in",
    "profile": "View your basic profile",
    "email": "View your email address",
    "offline_access": "Maintain access to data you have given it access to",
}
# Delegated Graph permissions the simulator knows: display string, and whether only an admin may consent.
DELEGATED = {
    "User.Read": ("Sign you in and read your profile", False),
    "User.ReadBasic.All": ("Read all users' basic profiles", False),
    "User.Read.All": ("Read all users' full profiles", True),
    "Group.Read.All": ("Read all groups", True),
    "GroupMember.Read.All": ("Read group memberships", True),
    "Directory.Read.All": ("Read directory data", True),
}
# Scopes of the API Sigsync's app registration exposes (Expose an API): the admin consent display name.
EXPOSED_WORDING = {"access_as_user": "Read your e-mail signature from Sigsync"}
# Application permissions (app roles) the app can be granted by admin consent.
APPLICATION = {
    "User.Read.All": "Read all users' full profiles",
    "Group.Read.All": "Read all groups",
    "GroupMember.Read.All": "Read all group memberships",
    "Directory.Read.All": "Read directory data",
}
_GRAPH_PREFIXES = (GRAPH_RESOURCE + "/", GRAPH_APP_ID + "/")


@dataclass(frozen=True)
class Scopes:
    """A parsed scope parameter: OpenID Connect scopes plus Graph permission names, or the app's own API.

    ``api`` holds full scope URIs of the API the app registration exposes (api://<client id>/access_as_user);
    a request names one resource only (Entra: AADSTS28000), so ``api`` and ``graph`` are never both set."""

    oidc: frozenset[str]
    graph: frozenset[str]
    api: frozenset[str] = frozenset()

    @property
    def offline(self) -> bool:
        return "offline_access" in self.oidc

    def as_granted(self) -> str:
        """The `scope` of a token response: OIDC scopes, then Graph permissions as full URIs."""
        oidc = sorted(self.oidc - {"offline_access"})
        return " ".join([*oidc, *(f"{GRAPH_RESOURCE}/{p}" for p in sorted(self.graph)), *sorted(self.api)])

    def stored(self) -> tuple[str, ...]:
        """A flat, sortable form kept with codes and refresh tokens."""
        return tuple(sorted(self.oidc) + sorted(self.graph) + sorted(self.api))

    @classmethod
    def from_stored(cls, items) -> Scopes:
        """Inverse of stored()."""
        items = set(items)
        api = {i for i in items if i.startswith("api://")}
        return cls(frozenset(items & set(OIDC_SCOPES)), frozenset(items - set(OIDC_SCOPES) - api), frozenset(api))


def parse_delegated(raw: str, configured: tuple[str, ...], client_id: str = "",
                    exposed: tuple[str, ...] = ()) -> Scopes:
    """Read a user-flow scope string; bare names mean Graph, `.default` means the configured set.

    ``api://<client_id>/<scope>`` (or ``<client_id>/<scope>``) asks for the app's own exposed API."""
    oidc: set[str] = set()
    graph: set[str] = set()
    api: set[str] = set()
    own = (f"api://{client_id}/".lower(), f"{client_id}/".lower()) if client_id else ()
    for item in raw.split():
        if item in OIDC_SCOPES:
            oidc.add(item)
            continue
        prefix = next((p for p in own if item.lower().startswith(p)), None)
        if prefix is not None:
            name = item[len(prefix):]
            names = exposed if name == ".default" else [n for n in exposed if n.lower() == name.lower()]
            if not names:
                raise errors.invalid_scope(item)
            api.update(f"api://{client_id}/{n}" for n in names)
            continue
        name = _graph_permission(item)
        if name == ".default":
            graph.update(configured)
        elif name in DELEGATED:
            graph.add(name)
        else:
            raise errors.invalid_scope(item)
    if api and graph:
        raise errors.AadstsError("invalid_scope", 28000, "Provided value for the input parameter scope is not valid "
                                 "because it contains more than one resource. Scope " + raw + " is not valid.")
    return Scopes(frozenset(oidc), frozenset(graph), frozenset(api))


def consent_lines(scopes: Scopes) -> list[str]:
    """What the consent page says the app would like to do, in Microsoft's words."""
    lines = [DELEGATED[p][0] for p in sorted(scopes.graph)]
    lines += [EXPOSED_WORDING.get(uri.rsplit("/", 1)[1], uri) for uri in sorted(scopes.api)]
    lines += [OIDC_WORDING[s] for s in OIDC_SCOPES if s in scopes.oidc]
    return lines


def app_role_lines(roles: tuple[str, ...]) -> list[str]:
    """What the admin consent page lists for application permissions."""
    return [APPLICATION.get(r, r) for r in roles]


def _graph_permission(item: str) -> str | None:
    for prefix in _GRAPH_PREFIXES:
        if item.lower().startswith(prefix.lower()):
            return _canonical(item[len(prefix):])
    if "/" in item or ":" in item:
        return None  # another resource: the simulator only hosts Graph
    return _canonical(item)


def _canonical(name: str) -> str:
    # Entra matches permission names case-insensitively; tokens carry the canonical spelling.
    for known in DELEGATED:
        if known.lower() == name.lower():
            return known
    return name
