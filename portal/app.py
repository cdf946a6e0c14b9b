"""The Flask application: ``create_app`` only wires things together."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from werkzeug.wrappers import Response

from config import Config
from portal.db import get_engine
from portal.extensions import csrf, login_manager

# Scripts only from our own origin (htmx is vendored; no inline scripts anywhere), and nothing may
# frame the portal. htmx's own indicator <style> is switched off in base.html's htmx-config.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}
SESSION_LIFETIME = timedelta(hours=8)


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
        PERMANENT_SESSION_LIFETIME=SESSION_LIFETIME,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session: a form left open still works
    )
    get_engine(config.database_url)
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_commands(app)
    register_security_headers(app)
    trust_proxies(app, config.trusted_proxies)
    return app


def trust_proxies(app: Flask, count: int) -> None:
    """Behind ``count`` reverse proxies, take the client's address, scheme and host from their X-Forwarded-*
    headers (the sign-in throttle counts per client address). With 0 those headers are ignored: anyone can send them.
    """
    if count > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count)


def register_extensions(app: Flask) -> None:
    from portal import web

    csrf.init_app(app)
    login_manager.init_app(app)
    web.init_app(app)


def register_blueprints(app: Flask) -> None:
    from portal.views import audit, auth, dashboard, health

    app.register_blueprint(health.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(dashboard.bp)
    app.register_blueprint(audit.bp)
    from portal.views import sync
    app.register_blueprint(sync.bp)
    from portal.views import departments
    app.register_blueprint(departments.bp)
    from portal.views import connect
    app.register_blueprint(connect.bp)
    from portal.views import settings
    app.register_blueprint(settings.bp)
    from portal.views import employees
    app.register_blueprint(employees.bp)
    from portal.views import mapping, rules
    app.register_blueprint(mapping.bp)
    app.register_blueprint(rules.bp)
    from portal.views import signatures
    app.register_blueprint(signatures.bp)
    from portal.api import signatures as signature_api
    app.register_blueprint(signature_api.bp)
    from portal.views import addin
    app.register_blueprint(addin.client)
    app.register_blueprint(addin.bp)
    from portal.views import photos
    app.register_blueprint(photos.bp)


def register_errorhandlers(app: Flask) -> None:
    from portal.views import errors

    errors.register(app)


def register_commands(app: Flask) -> None:
    from portal.cli import register

    register(app)


def register_security_headers(app: Flask) -> None:
    @app.after_request
    def add_security_headers(response: Response) -> Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
            if not response.headers[name]:  # set to "" by a view that must go without it (the framed Outlook add-in)
                del response.headers[name]
        if response.mimetype == "text/html":
            # Pages show an organisation's people: no shared cache, and no stale copy after sign-out.
            response.headers.setdefault("Cache-Control", "no-store")
        return response
