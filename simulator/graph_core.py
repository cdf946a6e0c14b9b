"""The Graph request/response model shared by the handlers, the dispatcher and $batch.

Handlers never see Flask: a request inside a JSON batch is served exactly like one on the wire.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from simulator.graph_errors import bad_request
from simulator.graph_paging import TokenCodec, link
from simulator.state import Simulator

# Recorded from graph.microsoft.com (graph-response-headers-recorded.txt).
ODATA_JSON = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
DIAGNOSTIC = ('{"ServerInfo":{"DataCenter":"Local","Slice":"E","Ring":"5","ScaleUnit":"000",'
              '"RoleInstance":"SIGSYNC-SIM"}}')

CODEC = TokenCodec()  # one secret per process: tokens from an earlier run are unknown, as they would be


@dataclass
class GraphRequest:
    """One Graph call: from the wire or from a $batch item."""

    method: str
    path: str  # after /v1.0, e.g. "/users/abc/manager"
    query_string: str = ""  # raw, as received (links reuse it verbatim)
    args: Mapping[str, str] = field(default_factory=dict)  # decoded query parameters
    headers: Mapping[str, str] = field(default_factory=dict)  # case-insensitive
    body: object = None  # parsed JSON body, if any
    base: str = ""  # scheme://host[:port] the client used: every link points back there


@dataclass
class GraphResponse:
    """What a handler answers: JSON (dict), bytes, or text, with extra headers."""

    status: int = 200
    body: object = None
    content_type: str | None = ODATA_JSON
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> bytes:
        """The body as bytes on the wire."""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode("utf-8")
        if self.body is None:
            return b""
        return json.dumps(self.body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@dataclass
class Context:
    """What a handler may use: the simulator, the caller's grant, and the request."""

    sim: Simulator
    grant: object  # simulator.tokens.AccessGrant
    request: GraphRequest
    request_id: str = ""
    client_request_id: str = ""

    @property
    def tenant(self):
        """The directory (simulator.tenant.Tenant)."""
        return self.sim.tenant

    def metadata(self, fragment: str) -> str:
        """An @odata.context URL."""
        return f"{self.request.base}/v1.0/$metadata#{fragment}"

    def next_link(self, payload: dict, name: str = "$skiptoken", path: str | None = None) -> str:
        """An absolute link repeating the request with a fresh opaque token."""
        req = self.request
        return link(req.base, path or req.path, req.query_string, name, CODEC.seal(payload))

    def skip_state(self) -> dict | None:
        """The payload of the request's $skiptoken (None when there is none)."""
        token = next((v for k, v in self.request.args.items() if k.lower() == "$skiptoken"), None)
        if token is None:
            return None
        state = CODEC.open(token)
        if state is None:
            raise bad_request("The specified page token value has expired and can no longer be included in "
                              "your request.")
        return state


def entity_fragment(collection: str, select: tuple[str, ...] | None, entity: bool = False) -> str:
    """users, users(id,mail), users/$entity, users(id)/$entity."""
    fragment = f"{collection}({','.join(select)})" if select else collection
    return f"{fragment}/$entity" if entity else fragment


def shape(obj: dict, fields: tuple[str, ...], odata_type: str | None = None) -> dict:
    """The properties to send, in the order asked; fields the type lacks are left out."""
    out = {"@odata.type": odata_type} if odata_type else {}
    for name in fields:
        if name in obj:
            out[name] = obj[name]
    return out


def collection_body(ctx: Context, fragment: str, items: list, next_payload: dict | None,
                    count: int | None = None) -> dict:
    """{"@odata.context", "@odata.count"?, "@odata.nextLink"?, "value"}, in Graph's key order."""
    body: dict = {"@odata.context": ctx.metadata(fragment)}
    if count is not None:
        body["@odata.count"] = count
    if next_payload is not None:
        body["@odata.nextLink"] = ctx.next_link(next_payload)
    body["value"] = items
    return body
