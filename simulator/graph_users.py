"""GET /users, /users/$count, /users/{id | userPrincipalName}, /manager, /photo and /photo/$value."""

from __future__ import annotations

from simulator import graph_errors as errors
from simulator.graph_core import Context, GraphResponse, collection_body, entity_fragment, shape
from simulator.graph_query import DEFAULT_TOP, USERS, Expand, Query, parse_query
from simulator.tenant_photo import jpeg_size

USER_TYPE = "#microsoft.graph.user"


def list_users(ctx: Context) -> GraphResponse:
    """A page of users: $select, $filter, $search, $orderby, $top, $count, $expand=manager."""
    req = ctx.request
    query = parse_query(req.args, req.headers, USERS)
    state = ctx.skip_state() or {}
    top = query.top or DEFAULT_TOP
    match = query.match()
    count = None
    if query.orderby or (query.filter and query.filter.ids is not None):
        everything = _listed(ctx, query)
        offset = state.get("o", 0)
        page = everything[offset:offset + top]
        following = {"o": offset + top} if offset + top < len(everything) else None
        count = len(everything)
    else:
        page, position = ctx.tenant.users_page(state.get("p", 0), top, match)
        following = {"p": position} if position is not None else None
    if query.count and not state:  # @odata.count is on the first page only
        count = count if count is not None else ctx.tenant.count_users(match)
    else:
        count = None
    fields = query.fields(USERS)
    items = [user_json(ctx, user, fields, query.expand, levels=1) for user in page]
    return GraphResponse(body=collection_body(ctx, entity_fragment("users", query.select), items, following, count))


def count_users(ctx: Context) -> GraphResponse:
    """/users/$count: a plain-text number; needs ConsistencyLevel: eventual."""
    req = ctx.request
    if req.headers.get("ConsistencyLevel", "").strip().lower() != "eventual":
        raise errors.count_not_supported()
    query = parse_query(req.args, req.headers, USERS, count_segment=True)
    return GraphResponse(body=str(ctx.tenant.count_users(query.match())), content_type="text/plain")


def get_user(ctx: Context, key: str) -> GraphResponse:
    """One user by id or userPrincipalName."""
    req = ctx.request
    query = parse_query(req.args, req.headers, USERS, collection=False)
    user = ctx.tenant.get_user(key)
    if user is None:
        raise errors.resource_not_found(key)
    levels = query.expand.levels if query.expand else 1
    body = {"@odata.context": ctx.metadata(entity_fragment("users", query.select, entity=True)),
            **user_json(ctx, user, query.fields(USERS), query.expand, levels)}
    return GraphResponse(body=body)


def get_manager(ctx: Context, key: str) -> GraphResponse:
    """The user's manager as a directoryObject; 404 'manager' when there is none (by design, says Microsoft)."""
    req = ctx.request
    query = parse_query(req.args, req.headers, USERS, collection=False)
    if ctx.tenant.get_user(key) is None:
        raise errors.resource_not_found(key)
    manager = ctx.tenant.manager_of(key)
    if manager is None:
        raise errors.resource_not_found("manager")
    body = {"@odata.context": ctx.metadata("directoryObjects/$entity"),
            **shape(manager, query.fields(USERS), USER_TYPE)}
    return GraphResponse(body=body)


def list_direct_reports(ctx: Context, key: str) -> GraphResponse:
    """The user's direct reports: a paged collection of directoryObjects (users here; no org contacts)."""
    req = ctx.request
    query = parse_query(req.args, req.headers, USERS)
    if ctx.tenant.get_user(key) is None:
        raise errors.resource_not_found(key)
    reports = ctx.tenant.reports_of(key)
    state = ctx.skip_state() or {}
    top = query.top or DEFAULT_TOP
    offset = state.get("o", 0)
    page = reports[offset:offset + top]
    following = {"o": offset + top} if offset + top < len(reports) else None
    items = [shape(user, query.fields(USERS), USER_TYPE) for user in page]
    return GraphResponse(body=collection_body(ctx, "directoryObjects", items, following, None))


def photo_metadata(ctx: Context, key: str) -> GraphResponse:
    """The profilePhoto entity; a mailbox without a photo shows Exchange's 1X1 placeholder."""
    user = ctx.tenant.get_user(key)
    if user is None:
        raise errors.resource_not_found(key)
    uid, base = user["id"], ctx.request.base
    data = ctx.tenant.photo(uid)
    body = {"@odata.context": ctx.metadata(f"users('{uid}')/photo/$entity"),
            "@odata.id": f"{base}/v1.0/users('{uid}@{ctx.sim.settings.tenant_id}')/photo"}
    if data is None:
        if not (user["mail"] and user["assignedLicenses"]):
            raise errors.image_not_found()
        body.update({"@odata.mediaContentType": "image/gif", "@odata.mediaEtag": "", "id": "1X1",
                     "width": 1, "height": 1})
        return GraphResponse(body=body)
    width, height = jpeg_size(data) or (240, 240)
    body.update({"@odata.mediaContentType": "image/jpeg", "@odata.mediaEtag": f'"{ctx.tenant.photo_etag(data)}"',
                 "id": f"{width}X{height}", "width": width, "height": height})
    return GraphResponse(body=body)


def photo_value(ctx: Context, key: str) -> GraphResponse:
    """The photo's bytes (image/jpeg); 404 ImageNotFound when the user has none."""
    if ctx.tenant.get_user(key) is None:
        raise errors.resource_not_found(key)
    data = ctx.tenant.photo(key)
    if data is None:
        raise errors.image_not_found()
    return GraphResponse(body=data, content_type="image/jpeg",
                         headers={"ETag": f'"{ctx.tenant.photo_etag(data)}"'})


def user_json(ctx: Context, user: dict, fields: tuple[str, ...], expand: Expand | None, levels: int) -> dict:
    """A user as Graph sends it, with the manager expanded when asked."""
    out = shape(user, fields)
    if expand is not None:
        manager = _manager_chain(ctx, user["id"], expand, levels, {user["id"]})
        if manager is not None:
            out["manager"] = manager
    return out


def _manager_chain(ctx: Context, uid: str, expand: Expand, levels: int, seen: set[str]) -> dict | None:
    manager = ctx.tenant.manager_of(uid)
    if manager is None or manager["id"] in seen:
        return None
    out = shape(manager, expand.select or USERS.default_select, USER_TYPE)
    if levels > 1:
        above = _manager_chain(ctx, manager["id"], expand, levels - 1, seen | {manager["id"]})
        if above is not None:
            out["manager"] = above
    return out


def _listed(ctx: Context, query: Query) -> list[dict]:
    # Lists that need all matches at once: a direct id lookup, or a sort.
    match = query.match()
    if query.filter and query.filter.ids is not None:
        users = [u for u in ctx.tenant.users_by_ids(query.filter.ids) if match is None or match(u)]
    else:
        users, position = [], 0
        while position is not None:
            page, position = ctx.tenant.users_page(position, 5000, match)
            users.extend(page)
    for name, descending in reversed(query.orderby):
        present = [u for u in users if u.get(name) is not None]
        missing = [u for u in users if u.get(name) is None]
        present.sort(key=lambda u, n=name: str(u[n]).casefold(), reverse=descending)
        users = present + missing
    return users
