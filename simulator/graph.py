"""Microsoft Graph v1.0 for the simulator: the `graph_bp` blueprint (mounted at /v1.0) and its dispatcher.

Every request goes: bearer token (401) -> writes refused (403, an app with read-only permissions)
-> injected faults -> route -> permission (403) -> handler. $batch items take the same path.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

from flask import Blueprint, Response, current_app, g, request
from werkzeug.datastructures import Headers

from simulator import graph_delta, graph_groups, graph_users
from simulator import graph_errors as errors
from simulator.graph_batch import run_batch
from simulator.graph_core import DIAGNOSTIC, Context, GraphRequest, GraphResponse
from simulator.graph_errors import GraphError
from simulator.state import Simulator
from simulator.wsgi_server import DROP_CONNECTION

graph_bp = Blueprint("graph", __name__, url_prefix="/v1.0")

USER_READ = frozenset({"User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"})
GROUP_READ = frozenset({"Group.Read.All", "Group.ReadWrite.All", "GroupMember.Read.All", "Directory.Read.All",
                        "Directory.ReadWrite.All"})
USERS, GROUPS, MEMBERSHIP = (USER_READ,), (GROUP_READ,), (USER_READ, GROUP_READ)
_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


@dataclass(frozen=True)
class Route:
    """A method + path pattern, the permissions it needs, its resource-unit cost, and its handler."""

    method: str
    pattern: re.Pattern
    needs: tuple[frozenset[str], ...]  # one permission out of each set
    cost: int  # x-ms-resource-unit before $select/$expand/$top adjustments (throttling-limits.md)
    handler: Callable[..., GraphResponse]
    extra: dict


def _route(method: str, path: str, needs, cost: int, handler, **extra) -> Route:
    return Route(method, re.compile(path + r"/?", re.IGNORECASE), needs, cost, handler, extra)


_KEY = r"(?P<key>[^/]+)"
_GID = r"(?P<group_id>[^/]+)"
ROUTES = (
    _route("GET", r"/users", USERS, 2, graph_users.list_users),
    _route("GET", r"/users/\$count", USERS, 1, graph_users.count_users),
    _route("GET", r"/users/(?:microsoft\.graph\.)?delta(?:\(\))?", USERS, 1, graph_delta.users_delta),
    _route("GET", rf"/users/{_KEY}", USERS, 1, graph_users.get_user),
    _route("GET", rf"/users/{_KEY}/manager", USERS, 1, graph_users.get_manager),
    _route("GET", rf"/users/{_KEY}/directReports", USERS, 1, graph_users.list_direct_reports),
    _route("GET", rf"/users/{_KEY}/photo", USERS, 1, graph_users.photo_metadata),
    _route("GET", rf"/users/{_KEY}/photo/\$value", USERS, 1, graph_users.photo_value),
    _route("GET", rf"/users/{_KEY}/(?P<rel>memberOf|transitiveMemberOf)(?:/(?P<cast>microsoft\.graph\.group))?",
           MEMBERSHIP, 2, graph_groups.member_of),
    _route("POST", rf"/users/{_KEY}/checkMemberGroups", USERS, 4, graph_groups.check_member_groups),
    _route("GET", r"/groups", GROUPS, 1, graph_groups.list_groups),
    _route("GET", r"/groups/\$count", GROUPS, 1, graph_groups.count_groups),
    _route("GET", r"/groups/(?:microsoft\.graph\.)?delta(?:\(\))?", GROUPS, 1, graph_delta.groups_delta),
    _route("GET", rf"/groups/{_GID}", GROUPS, 1, graph_groups.get_group),
    _route("GET", rf"/groups/{_GID}/(?P<rel>members|transitiveMembers)"
           r"(?:/(?P<cast>microsoft\.graph\.(?:user|group)))?", MEMBERSHIP, 3, graph_groups.members),
    _route("GET", r"/groups/(?P<key>[^/]+)/(?P<rel>memberOf|transitiveMemberOf)"
           r"(?:/(?P<cast>microsoft\.graph\.group))?", GROUPS, 2, graph_groups.member_of, owner="groups"),
    _route("POST", r"/groups/(?P<key>[^/]+)/checkMemberGroups", GROUPS, 4, graph_groups.check_member_groups,
           owner="groups"),
)
# POSTs that only read: everything else that isn't a GET is a write, which Sigsync never does.
_READ_POSTS = re.compile(r"/(\$batch|(users|groups)/[^/]+/checkMemberGroups)/?", re.IGNORECASE)


def _simulator() -> Simulator:
    return current_app.extensions["simulator"]


# -- the wire ---------------------------------------------------------------------------------


@graph_bp.route("/", defaults={"subpath": ""}, methods=_METHODS)
@graph_bp.route("/<path:subpath>", methods=_METHODS)
def entry(subpath: str) -> Response:
    """Every Graph call arrives here."""
    sim = _simulator()
    body = request.get_json(silent=True) if request.data else None
    req = GraphRequest(
        method="GET" if request.method == "HEAD" else request.method, path="/" + subpath,
        query_string=request.query_string.decode("latin-1"), args=dict(request.args), headers=request.headers,
        body=body, base=request.host_url.rstrip("/"),
    )
    response = serve(sim, req)
    if response is None:  # an injected dropped connection
        return _drop_connection()
    return _to_flask(response)


@graph_bp.after_request
def _record(response: Response) -> Response:
    status = 0 if g.get("graph_dropped") else response.status_code
    _simulator().log.add(request.method, request.path, request.query_string.decode("latin-1"), status, "graph")
    return response


def _to_flask(response: GraphResponse) -> Response:
    out = Response(response.encoded(), response.status, headers=response.headers)
    if response.content_type:
        out.headers["Content-Type"] = response.content_type
    return out


def _drop_connection() -> Response:
    # The simulator's server hangs up without answering when the app sets DROP_CONNECTION: the client
    # reads no status line at all (a ConnectionError in `requests`). Flask's test client has no socket;
    # the closest equivalent there is an exception.
    g.graph_dropped = True
    if "werkzeug.socket" not in request.environ:
        raise ConnectionAbortedError("simulator dropped the connection (fault injection)")
    request.environ[DROP_CONNECTION] = True
    return Response(b"", 500)


# -- dispatching --------------------------------------------------------------------------------


def serve(sim: Simulator, req: GraphRequest, grant=None, via: str = "") -> GraphResponse | None:
    """Answer one Graph request (None: drop the connection). `grant`: already checked (a batch item)."""
    request_id = str(uuid.uuid4())
    client_request_id = req.headers.get("client-request-id") or request_id
    try:
        grant = grant or _authenticate(sim, req)
        req.path = _normalize(req.path, grant)
        if req.method != "GET" and not (req.method == "POST" and _READ_POSTS.fullmatch(req.path)):
            raise errors.access_denied()
        decision = None
        if sim.faults is not None:
            decision = sim.faults.decide(req.method, "/v1.0" + req.path, batch=req.path.lower().startswith("/$batch"),
                                         batch_item=bool(via))
        if decision is not None:
            if decision.latency_ms:
                time.sleep(decision.latency_ms / 1000)
            if decision.drop:
                return None
            if decision.failure is not None:
                failure = decision.failure
                if failure.kind == "throttle":
                    raise errors.throttled(failure.retry_after_header())
                raise errors.unavailable(failure.status, failure.retry_after_header())
        ctx = Context(sim, grant, req, request_id, client_request_id)
        if req.path.lower().rstrip("/") == "/$batch" and req.method == "POST":
            response = run_batch(ctx, lambda item: _serve_item(ctx, item))
        else:
            response = _dispatch(ctx)
        response.headers.update(_success_headers(request_id, client_request_id))
        return response
    except GraphError as error:
        return _error_response(error, request_id, client_request_id)


def _dispatch(ctx: Context) -> GraphResponse:
    req = ctx.request
    for route in ROUTES:
        found = route.pattern.fullmatch(req.path)
        if found is None:
            continue
        if route.method != req.method:
            continue
        if not all(ctx.grant.permissions & needed for needed in route.needs):
            raise errors.access_denied()
        params = {k: v for k, v in found.groupdict().items() if v is not None}
        response = route.handler(ctx, **params, **route.extra)
        response.headers.setdefault("x-ms-resource-unit", str(_cost(route.cost, req)))
        return response
    segments = [s for s in req.path.split("/") if s]
    raise errors.segment_not_found(segments[-1] if segments else "")


def _serve_item(ctx: Context, item: dict) -> GraphResponse:
    # One $batch item: a relative URL ("/users?..." or "users?..."), optional headers and body.
    url = item["url"]
    parts = urlsplit(url if "://" in url else "/" + url.lstrip("/"))
    path = re.sub(r"^/v1\.0(?=/)", "", parts.path, flags=re.IGNORECASE)
    item_headers = Headers(list((item.get("headers") or {}).items()))
    req = GraphRequest(method=item["method"].upper(), path=path, query_string=parts.query,
                       args=dict(parse_qsl(parts.query, keep_blank_values=True)), headers=item_headers,
                       body=item.get("body"), base=ctx.request.base)
    if req.path.lower().rstrip("/") == "/$batch":
        response = _error_response(errors.bad_request("Nested batch requests are not supported.", "BadRequest"),
                                   ctx.request_id, ctx.client_request_id)
    else:
        response = serve(ctx.sim, req, grant=ctx.grant, via="$batch") or GraphResponse(500)
    ctx.sim.log.add(req.method, "/v1.0" + path, parts.query, response.status, "graph", via="$batch")
    return response


def _authenticate(sim: Simulator, req: GraphRequest):
    header = req.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if not header or scheme.lower() != "bearer" or not token.strip():
        raise errors.invalid_token("Access token is empty.")
    grant = sim.tokens.grant_for(token.strip()) if sim.tokens is not None else None
    if grant is None:
        raise errors.invalid_token("CompactToken parsing failed with error code: 80049217"
                                   if token.count(".") != 2 else "Access token validation failure.")
    if grant.expires_at <= time.time():
        raise errors.invalid_token("Access token has expired or is not yet valid.")
    return grant


def _normalize(path: str, grant) -> str:
    # users('x@y') is the same as users/x@y; /me is the signed-in user (delegated tokens only).
    path = re.sub(r"^/(users|groups)\('([^']*)'\)", r"/\1/\2", path, flags=re.IGNORECASE)
    if re.match(r"^/me(/|$)", path, re.IGNORECASE):
        if grant.kind != "delegated" or not grant.user_id:
            raise errors.me_needs_delegated()
        path = f"/users/{grant.user_id}{path[3:]}"
    return path


def _cost(base: int, req: GraphRequest) -> int:
    # throttling-limits.md: $select -1, $expand +1, $top below 20 -1; never below 1.
    names = {k.lower() for k in req.args}
    cost = base - ("$select" in names) + ("$expand" in names)
    top = next((v for k, v in req.args.items() if k.lower() == "$top"), "")
    if top.isdigit() and int(top) < 20:
        cost -= 1
    return max(cost, 1)


def _success_headers(request_id: str, client_request_id: str) -> dict[str, str]:
    return {"Cache-Control": "no-cache", "Strict-Transport-Security": "max-age=31536000",
            "request-id": request_id, "client-request-id": client_request_id,
            "x-ms-ags-diagnostic": DIAGNOSTIC, "OData-Version": "4.0"}


def _error_response(error: GraphError, request_id: str, client_request_id: str) -> GraphResponse:
    headers = {"Strict-Transport-Security": "max-age=31536000", "request-id": request_id,
               "client-request-id": client_request_id, "x-ms-ags-diagnostic": DIAGNOSTIC, **error.headers}
    return GraphResponse(error.status, error.body(request_id, client_request_id), "application/json", headers)

