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
    """200 when the database and Redis answer, 503 naming what does not."""
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
    healthy = all(v == "ok" for v in checks.values())
    return jsonify(status="ok" if healthy else "degraded", checks=checks), 200 if healthy else 503
