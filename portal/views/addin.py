"""The Outlook add-in: the files Outlook loads (public, under /addin/, framed by Outlook) and the admins' page.

/addin/* answers with a policy of its own: office.js from Microsoft's CDN, framed only by Outlook's origins.
Every other page keeps the app's policy (frame-ancestors 'none').
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, jsonify, render_template, request, url_for
from werkzeug.wrappers import Response

from portal import web
from portal.addin import deployment, manifest, runtime
from portal.addin.identity import SCOPE_NAME, application_id_uri
from portal.addin.manifest import handler_settings

OFFICE_JS = "https://appsforoffice.microsoft.com/lib/1/hosted/office.js"
# Where Outlook hosts add-in frames (Microsoft's list of Microsoft 365 and Outlook hosts for frame-ancestors).
OUTLOOK_FRAME_ANCESTORS = (
    "https://outlook.office.com", "https://outlook.office365.com", "https://outlook.live.com",
    "https://*.cloud.microsoft", "https://*.office.com", "https://*.microsoft365.com",
)

client = Blueprint("addin", __name__, url_prefix="/addin")
bp = Blueprint("outlook_addin", __name__)


def addin_policy() -> str:
    """The CSP of the add-in's own files: office.js (and the scripts it loads) from Microsoft, MSAL may talk to the
    Entra ID host, and only Outlook may frame the pages."""
    authority = web.app_config().ms_authority_host
    return (
        "default-src 'self'; script-src 'self' https://appsforoffice.microsoft.com; style-src 'self'; "
        f"img-src 'self' data:; connect-src 'self' {authority}; "
        f"frame-ancestors 'self' {' '.join(OUTLOOK_FRAME_ANCESTORS)}; base-uri 'self'; form-action 'self'"
    )


@client.after_request
def _framed_by_outlook(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = addin_policy()
    response.headers["X-Frame-Options"] = ""  # none: frame-ancestors above decides (see portal/app.py)
    return response


@client.get("/manifest.xml")
@web.public
def manifest_xml() -> Response:
    body = render_template("addin/manifest.xml", m=manifest.build(web.app_config()))
    response = current_app.response_class(body, mimetype="application/xml")
    if request.args.get("download"):
        response.headers["Content-Disposition"] = 'attachment; filename="sigsync-outlook-manifest.xml"'
    response.headers["Cache-Control"] = "no-cache"
    return response


@client.get("/commands.html")
@web.public
def commands() -> str:
    return render_template("addin/commands.html", office_js=OFFICE_JS, handler_url=url_for("addin.launchevent"))


@client.get("/taskpane.html")
@web.public
def taskpane() -> str:
    return render_template("addin/taskpane.html", office_js=OFFICE_JS, msal_version=runtime.MSAL_VERSION,
                           settings=handler_settings(web.app_config()))


@client.get("/launchevent.js")
@web.public
def launchevent() -> Response:
    source = runtime.launchevent_source(web.app_config())
    response = current_app.response_class(source, mimetype="text/javascript")
    response.set_etag(runtime.etag(source))
    response.headers["Cache-Control"] = "no-cache"
    return response.make_conditional(request)


@bp.get(f"/.well-known/{runtime.ALLOWED_JSON_NAME}")
@web.public
def allowed() -> Response:
    return jsonify(runtime.allowed_json(web.app_config()))


@bp.get("/outlook-add-in")
def index() -> Response:
    config = web.app_config()
    connection = deployment.live_connection(web.db_session(), web.current_org().id)
    return web.render(
        "addin/index.html",
        manifest_url=manifest.urls(config)["manifest"],
        download_url=url_for("addin.manifest_xml", download=1),
        url_checks=deployment.public_url_checks(config),
        sync=deployment.sync_check(connection),
        consent_url=deployment.admin_consent_url(config, connection.tenant_id if connection else ""),
        scope=handler_settings(config)["scope"],
        app_id_uri=application_id_uri(config.ms_client_id),
        scope_name=SCOPE_NAME,
        broker_redirect=f"brk-multihub://{urlsplit(config.public_url).netloc}",
        client_configured=bool(config.ms_client_id),
        addin_id=manifest.addin_id(config),
        version=manifest.VERSION,
    )
