"""GET /users/delta: an initial round in pages, then rounds of only what changed.

Page size: Graph decides it. The delta overview says `$top` is not supported for users and groups
("the number of objects in each page can vary"), `Prefer: odata.maxpagesize` is documented only for
Outlook resources, and observed directory delta pages hold at most 200 objects (Microsoft Q&A:
"200 for objects, such as users and contacts"; docs issue #5566). So pages are
`settings.delta_page_size` (default 200) users and both knobs are ignored.

Tokens are opaque seals of (phase, position, sequence number, $select, issue time): the tenant's
change log answers "what changed after sequence n", so no snapshot of the tenant is kept per token.
"""

from __future__ import annotations

import re
import time

from simulator import graph_errors as errors
from simulator.graph_core import CODEC, Context, GraphResponse
from simulator.graph_query import USERS, options, parse_select
from simulator.tenant import Change

USER_TYPE = "#microsoft.graph.user"
MAX_FILTER_IDS = 50  # "only by object ID", up to 50 (delta overview)
_ID_FILTER = re.compile(r"\s*id\s+eq\s+'[^']*'(?:\s+or\s+id\s+eq\s+'[^']*')*\s*", re.IGNORECASE)


def users_delta(ctx: Context) -> GraphResponse:
    """One page of a delta round (initial, nextLink, deltaLink or $deltatoken=latest)."""
    req = ctx.request
    opts = options(req.args)
    deltatoken, skiptoken = opts.get("deltatoken"), opts.get("skiptoken")
    faults = ctx.sim.faults
    if (deltatoken or skiptoken) and faults is not None and faults.take_delta_reset("/v1.0" + req.path):
        raise errors.resync_required(_restart_location(ctx, skiptoken or deltatoken, opts))
    if deltatoken and deltatoken.lower() == "latest":
        return _page(ctx, [], _token(ctx, "d", _initial(ctx, opts), seq=ctx.tenant.sequence), done=True)
    if skiptoken:
        state = _open(ctx, skiptoken)
    elif deltatoken:
        state = _open(ctx, deltatoken)
    else:
        state = _initial(ctx, opts)
    if state["ph"] == "d":  # a deltaLink: start a round of changes since its sequence number
        since = state["seq"]
        state = dict(state, ph="c", since=since, up=ctx.tenant.sequence, pos=ctx.tenant.log_position(since),
                     t=time.time())
    if state["ph"] == "i":
        return _initial_page(ctx, state, first=not skiptoken)
    return _changes_page(ctx, state, minimal=_prefers_minimal(req.headers))


def _initial(ctx: Context, opts: dict) -> dict:
    # The state of a fresh initial round; $select and the id filter are fixed in it for good.
    select = _delta_select(opts.get("select"))
    ids = _filter_ids(opts.get("filter"))
    for name in ("expand", "orderby", "search"):
        if name in opts:
            raise errors.unsupported_query()
    return {"k": "users", "e": ctx.tenant.epoch, "ph": "i", "pos": 0, "up": ctx.tenant.sequence,
            "sel": list(select) if select else None, "ids": ids, "t": time.time()}


def _initial_page(ctx: Context, state: dict, first: bool) -> GraphResponse:
    ids = set(state["ids"] or ())
    match = (lambda user: user["id"] in ids) if ids else None
    users, position = ctx.tenant.users_page(state["pos"], ctx.sim.settings.delta_page_size, match)
    items = [_full(ctx, user, state) for user in users]
    select = state["sel"]
    fragment = f"users({','.join(select)})" if first and select else "users"
    if position is None:
        return _page(ctx, items, _token(ctx, "d", state, seq=state["up"]), done=True, fragment=fragment)
    return _page(ctx, items, _token(ctx, "i", state, pos=position), done=False, fragment=fragment)


def _changes_page(ctx: Context, state: dict, minimal: bool) -> GraphResponse:
    tracked = frozenset(state["sel"]) if state["sel"] else None
    changes, position = ctx.tenant.changes_page(state["pos"], state["since"], state["up"],
                                                ctx.sim.settings.delta_page_size, tracked)
    ids = set(state["ids"] or ())
    items = [item for change in changes if not ids or change.id in ids
             if (item := _change_item(ctx, change, state, minimal)) is not None]
    headers = {"Preference-Applied": "return=minimal"} if minimal else {}
    if position is None:
        response = _page(ctx, items, _token(ctx, "d", state, seq=state["up"]), done=True)
    else:
        response = _page(ctx, items, _token(ctx, "c", state, pos=position), done=False)
    response.headers.update(headers)
    return response


def _change_item(ctx: Context, change: Change, state: dict, minimal: bool) -> dict | None:
    if change.state != "active":
        reason = "changed" if change.state == "soft" else "deleted"
        return {"id": change.id, "@removed": {"reason": reason}}
    user = ctx.tenant.delta_user(change.id)
    if user is None:  # deleted again between the change log and now: the next round says so
        return None
    if change.fresh:
        return _full(ctx, user, state)
    fields = _fields(state)
    if minimal:  # only what changed, nulls included
        out = {name: user[name] for name in fields if name in change.changed}
    else:  # every selected property that is set, plus changed ones even when now null
        out = {name: user[name] for name in fields if user[name] is not None or name in change.changed}
    out["id"] = user["id"]
    if _tracks_manager(state) and "manager" in change.changed:
        out["manager@delta"] = _manager_delta(ctx, user["id"])
    return out


def _full(ctx: Context, user: dict, state: dict) -> dict:
    # The standard representation: selected properties that are set (unset ones are left out), id last.
    out = {name: user[name] for name in _fields(state) if user[name] is not None}
    out["id"] = user["id"]
    if _tracks_manager(state):
        manager = _manager_delta(ctx, user["id"])
        if manager:
            out["manager@delta"] = manager
    return out


def _manager_delta(ctx: Context, user_id: str) -> list[dict]:
    manager_id = ctx.tenant.manager_id(user_id)
    return [{"@odata.type": USER_TYPE, "id": manager_id}] if manager_id else []


def _fields(state: dict) -> tuple[str, ...]:
    select = state["sel"]
    if not select:
        return tuple(n for n in USERS.default_select if n != "id")
    return tuple(n for n in select if n != "manager")


def _tracks_manager(state: dict) -> bool:
    return bool(state["sel"]) and "manager" in state["sel"]


def _page(ctx: Context, items: list, token: str, done: bool, fragment: str = "users") -> GraphResponse:
    name = "@odata.deltaLink" if done else "@odata.nextLink"
    parameter = "$deltatoken" if done else "$skiptoken"
    body = {"@odata.context": ctx.metadata(fragment),
            name: f"{ctx.request.base}/v1.0/users/delta?{parameter}={token}",
            "value": items}
    return GraphResponse(body=body)


def _token(ctx: Context, phase: str, state: dict, **changes) -> str:
    fresh = dict(state, ph=phase, **changes)
    if phase == "d":  # a deltaLink's age counts from when it was handed out
        fresh["t"] = time.time()
        for key in ("pos", "up", "since"):
            fresh.pop(key, None)
    return CODEC.seal(fresh)


def _open(ctx: Context, token: str) -> dict:
    state = CODEC.open(token)
    if not state or state.get("k") != "users" or state.get("e") != ctx.tenant.epoch:
        raise errors.sync_state_not_found()
    age = time.time() - state["t"]
    faults = ctx.sim.faults
    if age > ctx.sim.settings.delta_token_max_age or (faults is not None and faults.delta_token_expired(state["t"])):
        raise errors.sync_state_not_found()
    return state


def _restart_location(ctx: Context, token: str, opts: dict) -> str:
    # The initial request again, "with an empty $deltaToken" (delta overview, synchronization reset).
    state = CODEC.open(token) or {}
    select = state.get("sel") or ([s.strip() for s in opts["select"].split(",")] if opts.get("select") else None)
    query = f"$select={','.join(select)}&" if select else ""
    return f"{ctx.request.base}/v1.0/users/delta?{query}$deltatoken="


def _delta_select(text: str | None) -> tuple[str, ...] | None:
    if not text:
        return None
    names = [n.strip() for n in text.split(",") if n.strip()]
    manager = [n for n in names if n.lower() == "manager"]
    rest = parse_select(",".join(n for n in names if n.lower() != "manager"), USERS, collection=True) \
        if len(manager) < len(names) else ()
    return (*rest, "manager") if manager else rest


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
