"""Employee photos: the public address signatures load them from, and an admin's upload on the employee page.

``GET /photos/<token>.jpg`` needs no sign-in: whoever receives a signed e-mail loads it. The token is the
employee's unguessable photo token (``portal.photos.store``); an unknown token, an excluded or deactivated
employee, or one without a photo is 404, all alike. Answers carry a day's ``Cache-Control`` and an ``ETag``
(``304`` to ``If-None-Match``); a signature's address carries ``?v=`` with the photo's hash, so a new photo is
a new address for every cache.

``POST /employees/<id>/photo`` stores an admin's photo (multipart, CSRF, at most 4 MB, checked and made the
signature image like Microsoft 365's); ``POST /employees/<id>/photo/give-back`` drops it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import Blueprint, flash, request, url_for
from sqlmodel import Session
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

from portal import audit, web
from portal.models import Employee
from portal.photos import store
from portal.photos.image import CONTENT_TYPE, MAX_BYTES, MAX_SIDE, PhotoProblem, megabytes, prepare_photo

bp = Blueprint("photos", __name__)
CACHE_SECONDS = 24 * 3600  # a changed or removed photo leaves mail clients' caches within a day
UPLOAD_FIELD = "photo"
# The whole request may be a little larger than the photo (the form's other fields, multipart framing).
MAX_REQUEST_BYTES = MAX_BYTES + 64 * 1024


def _not_found() -> Response:
    response = Response("No photo here.\n", status=404, mimetype="text/plain")
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/photos/<string:photo_token>.jpg")
@web.public
def serve(photo_token: str) -> Response:
    employee_id = store.employee_id_of(photo_token)
    if employee_id is None or employee_id > web.MAX_ID:
        return _not_found()
    session: Session = web.db_session()
    employee = session.get(Employee, employee_id)
    if (employee is None or employee.status not in store.SERVED_STATUSES
            or not store.matches(web.app_config().secret_key, employee, photo_token)):
        return _not_found()
    photo = store.shown(session, employee)
    if photo is None:
        return _not_found()
    response = Response(photo.image, mimetype=CONTENT_TYPE)
    response.set_etag(photo.etag)
    response.headers["Cache-Control"] = f"public, max-age={CACHE_SECONDS}"
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"  # webmail shows it from another origin
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response.make_conditional(request)


# --- the employee page's photo section ---------------------------------------------------------------------

@dataclass(frozen=True)
class PhotoPanel:
    """What the employee page shows about the photo."""

    url: str | None  # the photo as served (a path on this site), None for no photo
    source: str | None  # "manual" | "m365" | None
    uploaded_by: str = ""
    uploaded_at: datetime | None = None


@bp.app_template_global("employee_photo")
def employee_photo(employee: Employee) -> PhotoPanel:
    session = web.db_session()
    photo = store.shown(session, employee)
    if photo is None:
        return PhotoPanel(None, None)
    url = store.photo_path(web.app_config().secret_key, employee, photo)
    if employee.status not in store.SERVED_STATUSES:
        url = None  # not served while excluded or deactivated
    upload = photo.upload
    return PhotoPanel(url, photo.source, upload.uploaded_by if upload else "", upload.uploaded_at if upload else None)


def _back(employee: Employee) -> Response:
    return web.redirect(url_for("employees.detail", employee_id=employee.id) + "#employee-photo")


def _too_large(employee_id: int) -> Response:
    flash(f"The photo was not uploaded: the file is larger than {megabytes(MAX_BYTES)}. Choose a smaller photo "
          f"({MAX_SIDE} × {MAX_SIDE} pixels is plenty for a signature).", "error")
    return web.redirect(url_for("employees.detail", employee_id=employee_id) + "#employee-photo")


def _limit_upload() -> Response | None:
    """Before any other check reads the form (control characters, CSRF): an upload's size limit, so a large
    body is refused from its Content-Length instead of being read (one without is cut off at the limit)."""
    if request.endpoint != "photos.upload":
        return None
    request.max_content_length = MAX_REQUEST_BYTES
    if request.content_length is not None and request.content_length > MAX_REQUEST_BYTES:
        return _too_large(request.view_args["employee_id"])  # changes nothing: no CSRF token needed
    return None


@bp.record_once
def _limit_uploads_first(state) -> None:  # noqa: ANN001 (Flask's BlueprintSetupState)
    state.app.before_request_funcs.setdefault(None, []).insert(0, _limit_upload)


@bp.post("/employees/<int:employee_id>/photo")
def upload(employee_id: int) -> Response:
    employee = web.get_owned_or_404(Employee, employee_id)
    try:
        sent = request.files.get(UPLOAD_FIELD)
    except RequestEntityTooLarge:
        return _too_large(employee.id)
    if sent is None or not sent.filename:
        flash("Choose a photo to upload first (JPEG, PNG or GIF, at most 4 MB).", "warning")
        return _back(employee)
    data = sent.stream.read(MAX_BYTES + 1)
    try:
        image = prepare_photo(data)
    except PhotoProblem as problem:
        flash(f"The photo was not uploaded. {problem}", "error")
        return _back(employee)
    session, org = web.db_session(), web.current_org()
    store.set_manual(session, employee, image, web.actor())
    audit.record(session, org.id, web.actor(), audit.Action.EMPLOYEE_EDITED,
                 f"Uploaded a photo for {employee.email}; it is used instead of Microsoft 365's until given back.",
                 {"employee": employee.email, "field": "photo", "bytes": len(image)})
    session.commit()
    flash(f"Photo of {employee.email} uploaded. Signatures use it instead of Microsoft 365's until you give it "
          "back.", "success")
    return _back(employee)


@bp.post("/employees/<int:employee_id>/photo/give-back")
def give_back(employee_id: int) -> Response:
    employee = web.get_owned_or_404(Employee, employee_id)
    session, org = web.db_session(), web.current_org()
    if not store.give_back(session, employee):
        flash(f"{employee.email} has no uploaded photo: the photo already follows Microsoft 365.", "warning")
        return _back(employee)
    audit.record(session, org.id, web.actor(), audit.Action.EMPLOYEE_EDITED,
                 f"Gave the photo of {employee.email} back to Microsoft 365.",
                 {"employee": employee.email, "field": "photo"})
    session.commit()
    has_m365 = employee.photo is not None
    flash(f"The photo of {employee.email} follows Microsoft 365 again: "
          + ("its Microsoft 365 photo is shown." if has_m365 else "there is none yet, so signatures show no photo."),
          "success")
    return _back(employee)


