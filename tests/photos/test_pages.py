"""An admin's photo upload (checked like any photo, CSRF, size limit), giving it back, and the public photo
address signatures use: no sign-in, caching headers, ETag/304, and 404 for anything that is not a shown photo."""

from __future__ import annotations

import io
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlmodel import Session, select

from portal.models import AuditEvent, Employee, Organization
from portal.photos import store
from portal.photos.image import MAX_BYTES, prepare_photo
from portal.signatures.render import compile_template, context_for, prepare, render

from .conftest import image_bytes

PNG = image_bytes("PNG", (900, 900), colour=(10, 120, 40))
M365_PHOTO = prepare_photo(image_bytes("JPEG", (300, 300), colour=(200, 30, 30)))
_PHOTO_SRC = re.compile(r'<img src="(/photos/[^"]+)"')


@pytest.fixture
def employee(db: Session, org: Organization) -> Employee:
    person = Employee(organization_id=org.id, email="ada@acme.example", display_name="Ada Lovelace",
                      photo=M365_PHOTO)
    db.add(person)
    db.commit()
    return person


def _upload(client: FlaskClient, token: str, employee: Employee, data: bytes, filename: str = "me.jpg",
            content_type: str = "image/jpeg"):
    """The browser's multipart POST, written out (held in memory, as the test client would not)."""
    boundary = "sigsync-test-boundary"
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{token}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="photo"; filename="{filename}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return client.post(f"/employees/{employee.id}/photo", data=body,
                       content_type=f"multipart/form-data; boundary={boundary}")


def _page(client: FlaskClient, employee: Employee) -> str:
    return client.get(f"/employees/{employee.id}").get_data(as_text=True)


def _served(client: FlaskClient, employee: Employee) -> str:
    found = _PHOTO_SRC.search(_page(client, employee))
    assert found, "the employee page shows the photo"
    return found.group(1)


def test_an_uploaded_photo_wins_over_microsoft_365s_until_given_back(signed_in, csrf_token, db, employee,
                                                                      app: Flask) -> None:
    token = csrf_token(signed_in, f"/employees/{employee.id}")
    page = _page(signed_in, employee)
    assert "From Microsoft 365" in page and "Give back to Microsoft 365" not in page
    assert '<label for="photo-file">Photo to upload</label>' in page

    response = _upload(signed_in, token, employee, PNG, filename="me.png", content_type="image/png")
    assert response.status_code == 303 and response.location.endswith(f"/employees/{employee.id}#employee-photo")
    page = signed_in.get(response.location).get_data(as_text=True)
    assert "Photo of ada@acme.example uploaded" in page and "Uploaded by ada@acme.example" in page
    assert "Give back to Microsoft 365" in page
    anonymous = app.test_client()
    served = anonymous.get(_served(signed_in, employee))
    assert served.data == prepare_photo(PNG) and served.mimetype == "image/jpeg"
    assert db.exec(select(AuditEvent).where(AuditEvent.summary.contains("Uploaded a photo"))).first() is not None

    # The sync writes Microsoft 365's photo into the employee; the upload still wins.
    db.refresh(employee)
    employee.photo = prepare_photo(image_bytes("JPEG", (300, 300), colour=(0, 0, 250)))
    db.add(employee)
    db.commit()
    assert anonymous.get(_served(signed_in, employee)).data == prepare_photo(PNG)

    response = signed_in.post(f"/employees/{employee.id}/photo/give-back", data={"csrf_token": token})
    assert response.status_code == 303
    page = signed_in.get(response.location).get_data(as_text=True)
    assert "follows Microsoft 365 again" in page and "From Microsoft 365" in page
    assert anonymous.get(_served(signed_in, employee)).data == employee.photo


@pytest.mark.parametrize(("data", "filename", "content_type", "words"), [
    (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "me.jpg", "image/jpeg", "not a JPEG, PNG or GIF"),
    (b"<!doctype html><script>alert(1)</script>", "me.png", "image/png", "not a JPEG, PNG or GIF"),
    (b"%PDF-1.4\n%%EOF", "me.gif", "image/gif", "not a JPEG, PNG or GIF"),
    (image_bytes("BMP", (20, 20)), "me.jpg", "image/jpeg", "not a JPEG, PNG or GIF"),
    (b"\xff\xd8\xff\xe0" + b"not really a photo" * 10, "me.jpg", "image/jpeg", "starts like a JPEG image but cannot"),
    (image_bytes("JPEG", (400, 400))[:500], "me.jpg", "image/jpeg", "starts like a JPEG image but cannot be read"),
    (b"\xff\xd8\xff" + b"\0" * (MAX_BYTES - 2), "big.jpg", "image/jpeg", "at most 4.0 MB"),
    (b"\xff\xd8\xff" + b"\0" * (MAX_BYTES + 200_000), "huge.jpg", "image/jpeg", "larger than 4.0 MB"),
])
def test_an_upload_that_lies_about_its_type_or_size_is_refused_in_the_admins_words(
        signed_in, csrf_token, db, employee, data: bytes, filename: str, content_type: str, words: str) -> None:
    token = csrf_token(signed_in, f"/employees/{employee.id}")
    response = _upload(signed_in, token, employee, data, filename, content_type)
    assert response.status_code == 303
    page = signed_in.get(response.location).get_data(as_text=True)
    assert "The photo was not uploaded" in page and words in page
    assert db.get(store.EmployeePhoto, employee.id) is None


def test_a_png_called_jpg_is_judged_by_its_bytes(signed_in, csrf_token, db, employee) -> None:
    token = csrf_token(signed_in, f"/employees/{employee.id}")
    assert _upload(signed_in, token, employee, PNG, filename="photo.jpg").status_code == 303
    assert db.get(store.EmployeePhoto, employee.id).image == prepare_photo(PNG)


def test_no_file_no_csrf_token_or_another_organisations_employee_changes_nothing(
        signed_in, csrf_token, db, employee, other_org) -> None:
    token = csrf_token(signed_in, f"/employees/{employee.id}")
    response = signed_in.post(f"/employees/{employee.id}/photo", data={"csrf_token": token})
    assert "Choose a photo to upload first" in signed_in.get(response.location).get_data(as_text=True)
    assert _upload(signed_in, "forged", employee, PNG).status_code == 400
    stranger = Employee(organization_id=other_org.id, email="bob@globex.example", photo=M365_PHOTO)
    db.add(stranger)
    db.commit()
    assert _upload(signed_in, token, stranger, PNG).status_code == 404
    assert signed_in.post(f"/employees/{stranger.id}/photo/give-back", data={"csrf_token": token}).status_code == 404
    assert db.exec(select(store.EmployeePhoto)).all() == []


def test_the_photo_address_caches_answers_304_and_needs_no_sign_in(app: Flask, signed_in, employee) -> None:
    path = _served(signed_in, employee)
    assert re.fullmatch(rf"/photos/{employee.id}-[A-Za-z0-9_-]{{32}}\.jpg\?v=[0-9a-f]{{12}}", path)
    anonymous = app.test_client()
    first = anonymous.get(path)
    assert first.status_code == 200 and first.data == M365_PHOTO
    assert first.headers["Cache-Control"] == "public, max-age=86400" and first.headers["ETag"]
    assert first.headers["X-Content-Type-Options"] == "nosniff"
    assert "Set-Cookie" not in first.headers
    again = anonymous.get(path, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    assert anonymous.get(path.split("?")[0]).data == M365_PHOTO  # the address without ?v= is the same photo


def test_unknown_forged_excluded_deactivated_or_photo_less_is_404(app: Flask, db, org, employee) -> None:
    with app.app_context():
        path = store.photo_path(app.config["SECRET_KEY"], employee, store.shown(db, employee)).split("?")[0]
    anonymous = app.test_client()
    assert anonymous.get(path).status_code == 200
    ident, mac = path.removeprefix("/photos/").removesuffix(".jpg").split("-", 1)
    forged = mac[:-1] + ("A" if mac[-1] != "A" else "B")
    for wrong in (f"/photos/{ident}-{forged}.jpg", f"/photos/{int(ident) + 1}-{mac}.jpg", "/photos/x.jpg",
                  f"/photos/99999999999-{mac}.jpg", f"/photos/{ident}-{mac}.png"):
        assert anonymous.get(wrong).status_code == 404, wrong
    for status in ("excluded", "inactive"):
        employee.status = status
        db.add(employee)
        db.commit()
        assert anonymous.get(path).status_code == 404
    employee.status, employee.photo = "paused", None  # paused still has a signature, but there is no photo
    db.add(employee)
    db.commit()
    assert anonymous.get(path).status_code == 404
    # a new employee that SQLite gives the same id after a delete does not open the old address
    db.delete(employee)
    db.commit()
    again = Employee(id=int(ident), organization_id=org.id, email="new@acme.example", photo=M365_PHOTO)
    db.add(again)
    db.commit()
    assert anonymous.get(path).status_code == 404


def test_a_signature_gets_the_absolute_photo_address_or_loses_the_photo_line(app: Flask, db, employee) -> None:
    compiled = compile_template(prepare('<table><tr><td><img src="{{ photo_url }}" alt="Photo" width="96"></td></tr>'
                                       "<tr><td>{{ full_name }}</td></tr></table>").html)
    assert not compiled.sanitize_output
    url = store.signature_url(db, employee, public_url="https://sig.acme.example/", secret_key="k" * 32)
    assert re.fullmatch(rf"https://sig\.acme\.example/photos/{employee.id}-[A-Za-z0-9_-]{{32}}\.jpg\?v=[0-9a-f]{{12}}",
                        url)
    html = render(compiled, context_for({"display_name": "Ada"}, photo_url=url)).html
    assert f'<img src="{url}" alt="Photo" width="96">' in html
    employee.photo = None
    assert store.signature_url(db, employee, public_url="https://x", secret_key="k" * 32) == ""
    html = render(compiled, context_for({"display_name": "Ada"}, photo_url="")).html
    assert "<img" not in html and "Ada" in html
    with app.app_context():  # the portal's own SIGSYNC_PUBLIC_URL and SECRET_KEY by default
        employee.photo = M365_PHOTO
        assert store.signature_url(db, employee).startswith(app.config["SIGSYNC"].public_url + "/photos/")


def test_the_served_image_is_a_real_jpeg(app: Flask, signed_in, employee) -> None:
    image = Image.open(io.BytesIO(app.test_client().get(_served(signed_in, employee)).data))
    assert image.format == "JPEG" and max(image.size) <= 648
