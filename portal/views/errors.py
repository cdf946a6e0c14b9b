"""Error pages: what happened and what to do, as a full page or, for htmx, a fragment for ``#status``."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import Flask, current_app, g, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.wrappers import Response

from portal import web
from portal.extensions import login_manager

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Explanation:
    title: str
    what: str
    todo: str


EXPLANATIONS = {
    400: Explanation("The request was not understood",
                     "The page sent something Sigsync could not read.",
                     "Go back, reload the page and try again."),
    403: Explanation("Not allowed",
                     "Your account may not open this page or do this.",
                     "If you need it, ask another admin of your organisation."),
    404: Explanation("Page not found",
                     "There is no such page, or what it showed was removed.",
                     "Check the address, or start again from the dashboard."),
    405: Explanation("Not possible here",
                     "This address does not accept that kind of request.",
                     "Go back and use the page's own buttons and links."),
    429: Explanation("Too many requests",
                     "Sigsync received too many requests in a short time.",
                     "Wait a minute, then try again."),
    500: Explanation("Something went wrong on our side",
                     "Sigsync could not finish this request. The problem has been logged.",
                     "Try again in a moment. If it keeps happening, tell whoever runs Sigsync for you."),
}
CSRF_EXPLANATION = Explanation(
    "This form has expired",
    "For your security, a form stops working when you sign in again or your session ends, "
    "and this one was sent with an outdated security token. Nothing was changed.",
    "Reload the page and send the form again.",
)

CONTROL_CHARACTER_EXPLANATION = Explanation(
    "The request was not understood",
    "The request contained a control character (such as NUL) that Sigsync cannot store.",
    "Remove it and try again.",
)


def render_error(status: int, explanation: Explanation) -> Response:
    """The error as a page, or for an htmx request a fragment swapped into the status region."""
    context = {"status": status, "error": explanation}
    try:
        if web.is_htmx():
            response = current_app.make_response((render_template("errors/_error.html", **context), status))
            response.headers["HX-Retarget"] = "#status"
            response.headers["HX-Reswap"] = "innerHTML"
        else:
            response = current_app.make_response((render_template("errors/error.html", **context), status))
    except Exception:  # the page itself failed (the database is down, say): plain words still help
        log.exception("Rendering the error page for %s failed", status)
        text = f"{explanation.title}. {explanation.what} {explanation.todo}"
        response = current_app.make_response((text, status, {"Content-Type": "text/plain; charset=utf-8"}))
    response.vary.add("HX-Request")
    return response


def handle_http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    explanation = EXPLANATIONS.get(status) or Explanation(exc.name, exc.description or "", "Go back and try again.")
    response = render_error(status, explanation)
    if status == 405 and getattr(exc, "valid_methods", None):
        response.headers["Allow"] = ", ".join(exc.valid_methods)
    return response


def handle_csrf_error(_exc: CSRFError) -> Response:
    if web.needs_signin():
        # The session (and its token) expired: what the admin needs is to sign in again, and for an
        # htmx request that means moving the whole page (HX-Redirect), not an error in a fragment.
        return login_manager.unauthorized()
    return render_error(400, CSRF_EXPLANATION)


def handle_server_error(exc: InternalServerError) -> Response:
    original = getattr(exc, "original_exception", None) or exc
    log.error("Unhandled error: %s", original, exc_info=original)
    session = g.get("db_session")
    if session is not None:  # the error page reads in a fresh transaction, not the failed one
        session.rollback()
    return render_error(500, EXPLANATIONS[500])


def register(app: Flask) -> None:
    """Attach the error handlers to the app."""
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(InternalServerError, handle_server_error)
    app.register_error_handler(HTTPException, handle_http_error)
