"""GET /users/delta and /groups/delta: an initial round in pages, then rounds of only what changed.

Page size: Graph decides it. The delta overview says `$top` is not supported for users and groups
("the number of objects in each page can vary"), `Prefer: odata.maxpagesize` is documented only for
Outlook resources, and observed directory delta pages hold at most 200 objects and 500 directory
links such as group members (Microsoft Q&A: "200 for objects, such as users and contacts; 500 for
directory link objects"; docs issue #5566). So a page is `settings.delta_page_size` (default 200)
objects or MEMBER_LINKS_PER_PAGE members, and both knobs are ignored.

Tokens are opaque seals of (phase, position, sequence number, $select, issue time): the tenant's
change log answers "what changed after sequence n", so no snapshot of the tenant is kept per token.
"""

from __future__ import annotations

import re
import time

from simulator import graph_errors as errors
from simulator.graph_core import CODEC, Context, GraphResponse
from simulator.graph_query import GROUPS, USERS, Resource, options, parse_select
from simulator.tenant import Change

TYPES = {"user": "#microsoft.graph.user", "group": "#microsoft.graph.group"}
MAX_FILTER_IDS = 50  # "only by object ID", up to 50 (delta overview)
MEMBER_LINKS_PER_PAGE = 500
_ID_FILTER = re.compile(r"\s*id\s+eq\s+'[^']*'(?:\s+or\s+id\s+eq\s+'[^']*')*\s*", re.IGNORECASE)
# What each collection tracks: its type, and the relationship $select can add (manager@delta, members@delta).
_KINDS: dict[str, tuple[Resource, str]] = {"users": (USERS, "manager"), "groups": (GROUPS, "members")}


def users_delta(ctx: Context) -> GraphResponse:
    """One page of a users delta round."""
    return _delta(ctx, "users")


def groups_delta(ctx: Context) -> GraphResponse:
    """One page of a groups delta round (members@delta included unless $select leaves members out)."""
    return _delta(ctx, "groups")


def _delta(ctx: Context, kind: str) -> GraphResponse:
    req = ctx.request
    opts = options(req.args)
    deltatoken, skiptoken = opts.get("deltatoken"), opts.get("skiptoken")
    faults = ctx.sim.faults
    if (deltatoken or skiptoken) and faults is not None and faults.take_delta_reset("/v1.0" + req.path):
        raise errors.resync_required(_restart_location(ctx, kind, skiptoken or deltatoken, opts))
    if deltatoken and deltatoken.lower() == "latest":
        return _page(ctx, kind, [], _token("d", _initial(ctx, kind, opts), seq=ctx.tenant.sequence), done=True)
    if skiptoken:
        state = _open(ctx, kind, skiptoken)
    elif deltatoken:
        state = _open(ctx, kind, deltatoken)
    else:
        state = _initial(ctx, kind, opts)
    if state["ph"] == "d":  # a deltaLink: start a round of changes since its sequence number
        since = state["seq"]
        state = dict(state, ph="c", since=since, up=ctx.tenant.sequence, t=time.time(),
                     pos=ctx.tenant.log_position(since, kind))
    if state["ph"] == "i":
        if kind == "groups":
            return _initial_groups_page(ctx, state, first=not skiptoken)
        return _initial_users_page(ctx, state, first=not skiptoken)
    return _changes_page(ctx, kind, state, minimal=_prefers_minimal(req.headers))


def _initial(ctx: Context, kind: str, opts: dict) -> dict:
    # The state of a fresh initial round; $select and the id filter are fixed in it for good.
    select = _delta_select(opts.get("select"), kind)
    ids = _filter_ids(opts.get("filter"))
    for name in ("expand", "orderby", "search"):
        if name in opts:
            raise errors.unsupported_query()
    return {"k": kind, "e": ctx.tenant.epoch, "ph": "i", "pos": 0, "m": 0, "up": ctx.tenant.sequence,
            "sel": list(select) if select else None, "ids": ids, "t": time.time()}


def _initial_users_page(ctx: Context, state: dict, first: bool) -> GraphResponse:
    ids = set(state["ids"] or ())
    match = (lambda user: user["id"] in ids) if ids else None
    users, position = ctx.tenant.users_page(state["pos"], ctx.sim.settings.delta_page_size, match)
    items = [_full(ctx, "users", user, state) for user in users]
    if position is None:
        return _page(ctx, "users", items, _token("d", state, seq=state["up"]), done=True, state=state, first=first)
    return _page(ctx, "users", items, _token("i", state, pos=position), done=False, state=state, first=first)


def _initial_groups_page(ctx: Context, state: dict, first: bool) -> GraphResponse:
    # A big group spans pages: the group object repeats, each time with the next slice of members@delta.
    ids = set(state["ids"] or ())
    groups = [g for g in ctx.tenant.groups_page(0, 1_000_000)[0] if not ids or g["id"] in ids]
    items, links, position, cursor = [], 0, state["pos"], state["m"]
    while position < len(groups) and len(items) < ctx.sim.settings.delta_page_size:
        item = _full(ctx, "groups", groups[position], state, with_members=False)
        items.append(item)
        if _tracks_relation(state, "groups"):
            page, following = ctx.tenant.members_page(groups[position]["id"], cursor, MEMBER_LINKS_PER_PAGE - links)
            item["members@delta"] = [{"@odata.type": TYPES[m.kind], "id": m.data["id"]} for m in page]
            links += len(page)
            if following is not None:  # out of room: this group goes on on the next page
                return _page(ctx, "groups", items, _token("i", state, pos=position, m=following), done=False,
                             state=state, first=first)
        position, cursor = position + 1, 0
        if links >= MEMBER_LINKS_PER_PAGE:
            break
    if position >= len(groups):
        return _page(ctx, "groups", items, _token("d", state, seq=state["up"]), done=True, state=state, first=first)
    return _page(ctx, "groups", items, _token("i", state, pos=position, m=0), done=False, state=state, first=first)


def _changes_page(ctx: Context, kind: str, state: dict, minimal: bool) -> GraphResponse:
    tracked = frozenset(state["sel"]) if state["sel"] else None
    changes, position = ctx.tenant.changes_page(state["pos"], state["since"], state["up"],
                                                ctx.sim.settings.delta_page_size, tracked, kind)
    ids = set(state["ids"] or ())
    items = [item for change in changes if not ids or change.id in ids
             if (item := _change_item(ctx, kind, change, state, minimal)) is not None]
    if position is None:
        response = _page(ctx, kind, items, _token("d", state, seq=state["up"]), done=True)
    else:
        response = _page(ctx, kind, items, _token("c", state, pos=position), done=False)
    if minimal:
        response.headers["Preference-Applied"] = "return=minimal"
    return response


def _change_item(ctx: Context, kind: str, change: Change, state: dict, minimal: bool) -> dict | None:
    if change.state != "active":
        reason = "changed" if change.state == "soft" else "deleted"
        return {"id": change.id, "@removed": {"reason": reason}}
    current = ctx.tenant.get_user(change.id) if kind == "users" else ctx.tenant.get_group(change.id)
    if current is None:  # deleted again between the change log and now: the next round says so
        return None
    if change.fresh:
        return _full(ctx, kind, current, state)
    fields = _fields(state, kind)
    if minimal:  # only what changed, nulls included
        out = {name: current[name] for name in fields if name in change.changed}
    else:  # every selected property that is set, plus changed ones even when now null
        out = {name: current[name] for name in fields if current[name] is not None or name in change.changed}
    out["id"] = current["id"]
    if kind == "users" and _tracks_relation(state, kind) and "manager" in change.changed:
        out["manager@delta"] = _manager_delta(ctx, current["id"])
    if kind == "groups" and _tracks_relation(state, kind) and change.members:
        out["members@delta"] = [_member_delta(member, member_kind, present)
                                for member, member_kind, present in change.members]
    return out


def _full(ctx: Context, kind: str, obj: dict, state: dict, with_members: bool = True) -> dict:
    # The standard representation: selected properties that are set (unset ones are left out), id last.
    out = {name: obj[name] for name in _fields(state, kind) if obj[name] is not None}
    out["id"] = obj["id"]
    if kind == "users" and _tracks_relation(state, kind):
        manager = _manager_delta(ctx, obj["id"])
        if manager:
            out["manager@delta"] = manager
    if kind == "groups" and with_members and _tracks_relation(state, kind):
        page, _ = ctx.tenant.members_page(obj["id"], 0, 1_000_000)
        out["members@delta"] = [{"@odata.type": TYPES[m.kind], "id": m.data["id"]} for m in page]
    return out


def _manager_delta(ctx: Context, user_id: str) -> list[dict]:
    manager_id = ctx.tenant.manager_id(user_id)
    return [{"@odata.type": TYPES["user"], "id": manager_id}] if manager_id else []


def _member_delta(member_id: str, kind: str, present: bool) -> dict:
    # A removed membership (or a permanently deleted member) carries @removed "deleted".
    entry = {"@odata.type": TYPES[kind], "id": member_id}
    if not present:
        entry["@removed"] = {"reason": "deleted"}
    return entry


def _fields(state: dict, kind: str) -> tuple[str, ...]:
    resource, relation = _KINDS[kind]
    select = state["sel"]
    if not select:
        return tuple(n for n in resource.default_select if n != "id")
    return tuple(n for n in select if n != relation)


def _tracks_relation(state: dict, kind: str) -> bool:
    # members@delta comes by default for groups; manager@delta only when $select names it.
    relation = _KINDS[kind][1]
    return relation in state["sel"] if state["sel"] else kind == "groups"


def _page(ctx: Context, kind: str, items: list, token: str, done: bool, state: dict | None = None,
          first: bool = False) -> GraphResponse:
    # The first page of an initial round names the $select in its context; later pages don't.
    select = state["sel"] if state and first else None
    name = "@odata.deltaLink" if done else "@odata.nextLink"
    parameter = "$deltatoken" if done else "$skiptoken"
    body = {"@odata.context": ctx.metadata(f"{kind}({','.join(select)})" if select else kind),
            name: f"{ctx.request.base}/v1.0/{kind}/delta?{parameter}={token}",
            "value": items}
    return GraphResponse(body=body)


def _token(phase: str, state: dict, **changes) -> str:
    fresh = dict(state, ph=phase, **changes)
    if phase == "d":  # a deltaLink's age counts from when it was handed out
        fresh["t"] = time.time()
        for key in ("pos", "m", "up", "since"):
            fresh.pop(key, None)
    return CODEC.seal(fresh)


def _open(ctx: Context, kind: str, token: str) -> dict:
    state = CODEC.open(token)
    if not state or state.get("k") != kind or state.get("e") != ctx.tenant.epoch:
        raise errors.sync_state_not_found()
    faults = ctx.sim.faults
    too_old = time.time() - state["t"] > ctx.sim.settings.delta_token_max_age
    if too_old or (faults is not None and faults.delta_token_expired(state["t"])):
        raise errors.sync_state_not_found()
    return state


def _restart_location(ctx: Context, kind: str, token: str, opts: dict) -> str:
    # The initial request again, "with an empty $deltaToken" (delta overview, synchronization reset).
    state = CODEC.open(token) or {}
    select = state.get("sel") or ([s.strip() for s in opts["select"].split(",")] if opts.get("select") else None)
    query = f"$select={','.join(select)}&" if select else ""
    return f"{ctx.request.base}/v1.0/{kind}/delta?{query}$deltatoken="


def _delta_select(text: str | None, kind: str) -> tuple[str, ...] | None:
    if not text:
        return None
    resource, relation = _KINDS[kind]
    names = [n.strip() for n in text.split(",") if n.strip()]
    wanted = [n for n in names if n.lower() != relation]
    chosen = parse_select(",".join(wanted), resource, collection=True) if wanted else ()
    return (*chosen, relation) if len(wanted) < len(names) else chosen


def _filter_ids(text: str | None) -> list[str] | None:
    if not text:
        return None
    if not _ID_FILTER.fullmatch(text):
        raise errors.unsupported_query()
    ids = re.findall(r"'([^']*)'", text)
    if len(ids) > MAX_FILTER_IDS:
        raise errors.unsupported_query()
    return [i.lower() for i in ids]


def _prefers_minimal(headers) -> bool:
    prefer = headers.get("Prefer", "")
    return any(p.strip().lower() == "return=minimal" for p in prefer.split(","))
