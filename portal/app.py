"""The Flask application: ``create_app`` only wires things together."""

from __future__ import annotations

import logging

from flask import Flask, g

from config import Config
from portal.db import get_engine
from portal.extensions import csrf, login_manager


def create_app(config: Config | None = None) -> Flask:
    """Build the Flask application for the given (or the environment's) configuration."""
    config = config or Config.from_env()
    app = Flask(__name__, template_folder="../templates", static_folder="../static")
    app.config.update(
        SIGSYNC=config,
        SECRET_KEY=config.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=config.public_url.startswith("https://"),
    )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)  # its INFO lines drown every CLI command's output
    register_extensions(app)
    register_database(app)
    register_blueprints(app)
    register_commands(app)
    return app


def register_extensions(app: Flask) -> None:
    csrf.init_app(app)
    login_manager.init_app(app)


def register_database(app: Flask) -> None:
    get_engine(app.config["SIGSYNC"].database_url)

    @app.teardown_appcontext
    def close_session(_exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()


def register_blueprints(app: Flask) -> None:
    from portal.views import health

    app.register_blueprint(health.bp)


def register_commands(app: Flask) -> None:
    from portal.cli import register

    register(app)
