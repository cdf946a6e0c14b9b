"""Groups and membership: /groups, members, transitiveMembers, memberOf, transitiveMemberOf, checkMemberGroups."""

from __future__ import annotations

from simulator import graph_errors as errors
from simulator.graph_core import Context, GraphResponse, collection_body, entity_fragment, shape
from simulator.graph_query import DEFAULT_TOP, GROUPS, USERS, Query, Resource, parse_query

USER_TYPE = "#microsoft.graph.user"
GROUP_TYPE = "#microsoft.graph.group"
MAX_CHECK_GROUPS = 20

# A directoryObject collection mixes users and groups: $select and $filter may name either's properties.
DIRECTORY_OBJECTS = Resource(
    entity="DirectoryObject",
    properties=tuple(dict.fromkeys(USERS.properties + GROUPS.properties)),
    default_select=(),
    filter_default={**GROUPS.filter_default, **USERS.filter_default},
    endswith=USERS.endswith | GROUPS.endswith,
    orderby_default=frozenset({"displayName"}),
)


def list_groups(ctx: Context) -> GraphResponse:
    """A page of groups: $select, $filter, $search, $orderby, $top, $count."""
    req = ctx.request
    query = parse_query(req.args, req.headers, GROUPS)
    state = ctx.skip_state() or {}
    top, match = query.top or DEFAULT_TOP, query.match()
    if query.orderby:
        everything = _sorted(_all_groups(ctx, match), query)
        offset = state.get("o", 0)
        page, following = everything[offset:offset + top], ({"o": offset + top} if offset + top < len(everything)
                                                            else None)
    else:
        page, position = ctx.tenant.groups_page(state.get("p", 0), top, match)
        following = {"p": position} if position is not None else None
    count = len(_all_groups(ctx, match)) if query.count and not state else None
    items = [shape(g, query.fields(GROUPS)) for g in page]
    return GraphResponse(body=collection_body(ctx, entity_fragment("groups", query.select), items, following, count))


def count_groups(ctx: Context) -> GraphResponse:
    """/groups/$count (text/plain); needs ConsistencyLevel: eventual."""
    req = ctx.request
    if req.headers.get("ConsistencyLevel", "").strip().lower() != "eventual":
        raise errors.count_not_supported()
    query = parse_query(req.args, req.headers, GROUPS, count_segment=True)
    return GraphResponse(body=str(len(_all_groups(ctx, query.match()))), content_type="text/plain")


def get_group(ctx: Context, group_id: str) -> GraphResponse:
    """One group by id."""
    req = ctx.request
    query = parse_query(req.args, req.headers, GROUPS, collection=False)
    group = ctx.tenant.get_group(group_id)
    if group is None:
        raise errors.resource_not_found(group_id)
    body = {"@odata.context": ctx.metadata(entity_fragment("groups", query.select, entity=True)),
            **shape(group, query.fields(GROUPS))}
    return GraphResponse(body=body)


def members(ctx: Context, group_id: str, rel: str, cast: str | None = None) -> GraphResponse:
    """Direct or transitive members; a cast (/microsoft.graph.user|group) keeps one type (context #users/#groups)."""
    req = ctx.request
    kind = _cast_kind(cast)
    resource = {"user": USERS, "group": GROUPS}.get(kind, DIRECTORY_OBJECTS)
    query = parse_query(req.args, req.headers, resource)
    _needs_advanced(query)
    state = ctx.skip_state() or {}
    kinds = (kind,) if kind else ("user", "group")
    transitive = rel.lower() == "transitivemembers"
    found = ctx.tenant.members_page(group_id, state.get("p", 0), query.top or DEFAULT_TOP, transitive, kinds,
                                    query.match())
    if found is None:
        raise errors.resource_not_found(group_id)
    page, position = found
    count = None
    if query.count and not state:
        count = _count_members(ctx, group_id, transitive, kinds, query)
    items = [_member_json(ref.kind, ref.data, query, typed=kind is None) for ref in page]
    fragment = entity_fragment({"user": "users", "group": "groups"}.get(kind, "directoryObjects"), query.select)
    following = {"p": position} if position is not None else None
    return GraphResponse(body=collection_body(ctx, fragment, items, following, count))


def member_of(ctx: Context, key: str, rel: str, cast: str | None = None, owner: str = "users") -> GraphResponse:
    """The groups a user (or group) is in, directly or through nesting."""
    req = ctx.request
    query = parse_query(req.args, req.headers, GROUPS)
    _needs_advanced(query)
    if _owner(ctx, key, owner) is None:
        raise errors.resource_not_found(key)
    groups = ctx.tenant.member_of(key, transitive=rel.lower() == "transitivememberof") or []
    match = query.match()
    groups = [g for g in groups if match is None or match(g)]
    state = ctx.skip_state() or {}
    offset, top = state.get("o", 0), query.top or DEFAULT_TOP
    following = {"o": offset + top} if offset + top < len(groups) else None
    typed = _cast_kind(cast) is None
    items = [_member_json("group", g, query, typed) for g in groups[offset:offset + top]]
    count = len(groups) if query.count and not state else None
    fragment = entity_fragment("directoryObjects" if typed else "groups", query.select)
    return GraphResponse(body=collection_body(ctx, fragment, items, following, count))


def check_member_groups(ctx: Context, key: str, owner: str = "users") -> GraphResponse:
    """POST checkMemberGroups (a read): which of up to 20 groups the object is in, transitively."""
    body = ctx.request.body
    ids = body.get("groupIds") if isinstance(body, dict) else None
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise errors.bad_request("The request body must be a JSON object with a 'groupIds' collection of strings.")
    if len(ids) > MAX_CHECK_GROUPS:
        # Documented limit ("up to 20 groups"); Microsoft published no error text for going over it.
        raise errors.bad_request(f"The number of groupIds must not exceed {MAX_CHECK_GROUPS}.")
    if _owner(ctx, key, owner) is None:
        raise errors.resource_not_found(key)
    found = ctx.tenant.check_member_groups(key, ids) or []
    return GraphResponse(body={"@odata.context": ctx.metadata("Collection(Edm.String)"), "value": found})


def _cast_kind(cast: str | None) -> str | None:
    if not cast:
        return None
    return "user" if cast.lower().endswith(".user") else "group"


def _needs_advanced(query: Query) -> None:
    # Filtering membership lists is an advanced query (header and $count=true).
    if (query.filter or query.search) and not query.advanced:
        raise errors.unsupported_query()


def _owner(ctx: Context, key: str, owner: str) -> dict | None:
    return ctx.tenant.get_group(key) if owner == "groups" else ctx.tenant.get_user(key)


def _member_json(kind: str, data: dict, query: Query, typed: bool) -> dict:
    default = USERS.default_select if kind == "user" else GROUPS.default_select
    return shape(data, query.select or default, (USER_TYPE if kind == "user" else GROUP_TYPE) if typed else None)


def _count_members(ctx: Context, group_id: str, transitive: bool, kinds: tuple[str, ...], query: Query) -> int:
    total, position = 0, 0
    while position is not None:
        page, position = ctx.tenant.members_page(group_id, position, 5000, transitive, kinds, query.match())
        total += len(page)
    return total


def _all_groups(ctx: Context, match) -> list[dict]:
    groups, position = [], 0
    while position is not None:
        page, position = ctx.tenant.groups_page(position, 1000, match)
        groups.extend(page)
    return groups


def _sorted(groups: list[dict], query: Query) -> list[dict]:
    for name, descending in reversed(query.orderby):
        groups = sorted(groups, key=lambda g, n=name: str(g.get(n) or "").casefold(), reverse=descending)
    return groups
