"""``/healthz``: is this portal able to serve? For load balancers and `make run`."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from portal.db import get_engine
from portal.web import public

bp = Blueprint("health", __name__)


@bp.get("/healthz")
@public
def healthz():
    """200 while the portal can serve (the database answers), 503 when it cannot.

    Redis down is "degraded", still 200: every page serves without it and only "Sync now" waits
    for it, so a load balancer must not take the portal out of service for it.
    """
    config = current_app.config["SIGSYNC"]
    checks = {}
    try:
        with get_engine(config.database_url).connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except SQLAlchemyError as exc:
        checks["database"] = f"unreachable: {type(exc).__name__}"
    try:
        Redis.from_url(config.redis_url, socket_connect_timeout=1, socket_timeout=1).ping()
        checks["redis"] = "ok"
    except RedisError as exc:
        checks["redis"] = f"unreachable: {type(exc).__name__}"
    if checks["database"] != "ok":
        return jsonify(status="down", checks=checks), 503
    healthy = checks["redis"] == "ok"
    return jsonify(status="ok" if healthy else "degraded", checks=checks), 200
