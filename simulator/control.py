"""The simulator's own control API under /_sim (JSON, no auth): never part of the Microsoft surface.

Tests and demos use it to change the directory, inject faults and read the request log; every
endpoint is a thin wrapper over the Python API of Tenant, Faults and RequestLog.
"""

from __future__ import annotations

import base64
from dataclasses import asdict, fields

from flask import Blueprint, Response, current_app, jsonify, request

from simulator.faults import Fault
from simulator.state import Simulator

control_bp = Blueprint("control", __name__, url_prefix="/_sim")

_FAULT_FIELDS = {f.name for f in fields(Fault)} - {"id", "hits", "seen"}
# Faults that are one-off actions rather than rules.
_ACTIONS = ("expire_delta_tokens", "revoke_refresh_tokens", "expire_access_tokens", "expire_refresh_tokens")


def _sim() -> Simulator:
    return current_app.extensions["simulator"]


def _record(response: Response) -> Response:
    _sim().log.add(request.method, request.path, request.query_string.decode("latin-1"), response.status_code,
                   "control")
    return response


def _not_found(error: LookupError):
    return jsonify(error={"code": "NotFound", "message": str(error).strip("'\"")}), 404


def _bad_request(error: ValueError):
    return jsonify(error={"code": "BadRequest", "message": str(error)}), 400


def as_control_api(bp: Blueprint) -> Blueprint:
    """What every /_sim blueprint shares: its requests in the log, LookupError 404 and ValueError 400 as JSON."""
    bp.after_request(_record)
    bp.register_error_handler(LookupError, _not_found)
    bp.register_error_handler(ValueError, _bad_request)
    return bp


as_control_api(control_bp)


def json_body() -> dict:
    """The request's JSON object ({} when there is none); ValueError (400) for anything else."""
    data = request.get_json(silent=True)
    if data is None and request.data:
        raise ValueError("the body must be JSON")
    if data is not None and not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    return data or {}


# -- health and the request log -------------------------------------------------------------


@control_bp.get("/health")
def health():
    """Liveness plus a summary of the simulated tenant."""
    sim = _sim()
    tenant = sim.tenant
    return jsonify(status="ok", tenant_id=sim.settings.tenant_id, users=tenant.count_users(),
                   sequence=tenant.sequence, faults=len(sim.faults.active()) if sim.faults else 0)


@control_bp.get("/requests")
def list_requests():
    """The request log; filters: surface, method, path (prefix), status, via, limit (newest last)."""
    args = request.args
    items = _sim().log.items(args.get("surface") or None)
    if args.get("method"):
        items = [i for i in items if i.method.upper() == args["method"].upper()]
    if args.get("path"):
        items = [i for i in items if i.path.startswith(args["path"])]
    if args.get("status"):
        items = [i for i in items if str(i.status) == args["status"]]
    if "via" in args:
        items = [i for i in items if i.via == args["via"]]
    if args.get("limit"):
        items = items[-int(args["limit"]):]
    return jsonify(count=len(items), value=[asdict(i) for i in items])


@control_bp.delete("/requests")
def clear_requests():
    """Forget the request log."""
    _sim().log.clear()
    return "", 204


# -- faults ----------------------------------------------------------------------------------


@control_bp.get("/faults")
def list_faults():
    """The fault rules in force."""
    return jsonify(value=[f.to_dict() for f in _sim().faults.active()])


@control_bp.post("/faults")
def add_faults():
    """Inject one fault ({"kind": ...}) or several ({"faults": [...]}, or a list)."""
    body = request.get_json(silent=True)
    specs = body.get("faults") if isinstance(body, dict) and "faults" in body else body
    specs = specs if isinstance(specs, list) else [specs]
    created, done = [], []
    for spec in specs:
        if not isinstance(spec, dict) or "kind" not in spec:
            raise ValueError('each fault is an object with a "kind"')
        if spec["kind"] in _ACTIONS:
            done.append({"kind": spec["kind"], "affected": _act(spec["kind"])})
            continue
        unknown = set(spec) - _FAULT_FIELDS
        if unknown:
            raise ValueError(f"unknown fault fields: {sorted(unknown)}")
        created.append(_sim().faults.add(Fault(**spec)).to_dict())
    return jsonify(value=created, actions=done), 201


@control_bp.delete("/faults")
def clear_faults():
    """Remove every fault rule."""
    _sim().faults.clear()
    return "", 204


@control_bp.delete("/faults/<int:fault_id>")
def remove_fault(fault_id: int):
    """Remove one fault rule."""
    if not _sim().faults.remove(fault_id):
        raise LookupError(f"no fault {fault_id}")
    return "", 204


def _act(kind: str) -> int | None:
    sim = _sim()
    if kind == "expire_delta_tokens":
        sim.faults.expire_delta_tokens()
        return None
    method = getattr(sim.tokens, kind, None)  # the token store's own fault hooks, when it has them
    if method is None:
        raise ValueError(f"the token store does not support {kind}")
    return method()


# -- directory changes ------------------------------------------------------------------------


@control_bp.post("/users")
def add_user():
    """Create a user from Graph properties; answers its id."""
    uid = _sim().tenant.add_user(json_body())
    return jsonify(id=uid), 201


@control_bp.get("/users/<key>")
def get_user(key: str):
    """A user (by id or UPN) with its state: active, soft (deleted, restorable) or hard."""
    tenant = _sim().tenant
    state = tenant.user_state(key)
    if state is None:
        raise LookupError(f"no user {key}")
    return jsonify(state=state, user=tenant.get_user(key))


@control_bp.patch("/users/<key>")
def update_user(key: str):
    """Change properties (Graph names; "manager": id or null works too)."""
    tenant = _sim().tenant
    tenant.update_user(key, **json_body())
    return jsonify(user=tenant.get_user(key))


@control_bp.post("/users/<key>/rename")
def rename_user(key: str):
    """New primary address: {"mail": ..., "userPrincipalName": ...} (either)."""
    body = json_body()
    tenant = _sim().tenant
    tenant.rename_address(key, mail=body.get("mail"), upn=body.get("userPrincipalName"))
    return jsonify(user=tenant.get_user(body.get("userPrincipalName") or key))


@control_bp.delete("/users/<key>")
def delete_user(key: str):
    """Soft delete (restorable); ?hard=1 deletes for good."""
    tenant = _sim().tenant
    if request.args.get("hard", "").lower() in ("1", "true", "yes"):
        tenant.hard_delete(key)
    else:
        tenant.soft_delete(key)
    return "", 204


@control_bp.post("/users/<key>/restore")
def restore_user(key: str):
    """Restore a soft-deleted user."""
    tenant = _sim().tenant
    tenant.restore(key)
    return jsonify(user=tenant.get_user(key))


@control_bp.put("/users/<key>/manager")
def set_manager(key: str):
    """{"id": <manager id or UPN>} or {"id": null}."""
    _sim().tenant.set_manager(key, json_body().get("id"))
    return "", 204


@control_bp.put("/users/<key>/photo")
def set_photo(key: str):
    """Upload a photo: raw image/jpeg bytes, or {"base64": "..."}."""
    data = request.get_data()
    if request.is_json:
        data = base64.b64decode(json_body().get("base64", ""))
    if not data:
        raise ValueError("no photo bytes")
    _sim().tenant.set_photo(key, data)
    return "", 204


@control_bp.delete("/users/<key>/photo")
def remove_photo(key: str):
    """Remove a user's photo."""
    _sim().tenant.set_photo(key, None)
    return "", 204


@control_bp.post("/groups")
def create_group():
    """Create a group: {"displayName", "mailEnabled"?, "securityEnabled"?, "unified"?, "members"?: [...]}."""
    body = json_body()
    if not body.get("displayName"):
        raise ValueError("displayName is required")
    gid = _sim().tenant.create_group(
        body["displayName"], mail_enabled=bool(body.get("mailEnabled", False)),
        security_enabled=bool(body.get("securityEnabled", True)), unified=bool(body.get("unified", False)),
        description=body.get("description"), nickname=body.get("mailNickname"), members=body.get("members", ()))
    return jsonify(id=gid), 201


@control_bp.post("/groups/<group_id>/members/<member>")
def add_member(group_id: str, member: str):
    """Add a user or group to a group."""
    _sim().tenant.add_member(group_id, member)
    return "", 204


@control_bp.delete("/groups/<group_id>/members/<member>")
def remove_member(group_id: str, member: str):
    """Take a user or group out of a group."""
    _sim().tenant.remove_member(group_id, member)
    return "", 204


@control_bp.post("/reset")
def reset():
    """Back to the generated tenant, no faults, an empty request log (issued tokens stay valid).

    An optional body {"users": n, "seed": s} regenerates the tenant at another size or seed."""
    sim = _sim()
    body = json_body()
    for name in ("users", "seed"):
        if name in body:
            if not isinstance(body[name], int) or body[name] < 0:
                raise ValueError(f"{name} must be a non-negative integer")
            setattr(sim.settings, name, body[name])
    sim.tenant.reset()
    sim.faults.clear()
    sim.log.clear()
    return jsonify(status="reset", users=sim.tenant.count_users())
