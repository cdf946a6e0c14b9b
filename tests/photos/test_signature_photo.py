"""The photo in a real signature: the signature API fills ``{{ photo_url }}`` with the employee's public photo
address, which serves the image without sign-in; without a photo the line disappears."""

from __future__ import annotations

import re

from sqlmodel import Session, select

from portal.models import ApiToken, Employee, Organization, SignatureAssignment, SignatureTemplate
from portal.photos.image import prepare_photo

from .conftest import image_bytes

TEMPLATE = '<p>{{ full_name }}</p>\n<p><img src="{{ photo_url }}" alt="" width="96"></p>\n<p>End</p>'


def _api_token(signed_in, csrf_token, db: Session) -> str:
    form_token = csrf_token(signed_in, "/signatures/")
    page = signed_in.post("/signatures/tokens", data={"token-name": "Photo test", "csrf_token": form_token})
    match = re.search(r'id="new-token" type="text" readonly value="([^"]+)"', page.get_data(as_text=True))
    assert match and db.exec(select(ApiToken)).first() is not None
    return match.group(1)


def test_the_signature_api_gives_the_photo_address_and_drops_the_line_without_a_photo(
        app, client, signed_in, csrf_token, db: Session, org: Organization) -> None:
    template = SignatureTemplate(organization_id=org.id, name="With photo", html=TEMPLATE)
    db.add(template)
    db.commit()
    db.add(SignatureAssignment(organization_id=org.id, target="default", compose="new", template_id=template.id))
    db.add(Employee(organization_id=org.id, email="ada@acme.example", display_name="Ada Lovelace",
                    photo=prepare_photo(image_bytes("PNG", (900, 900), colour=(10, 120, 40)))))
    db.add(Employee(organization_id=org.id, email="bob@acme.example", display_name="Bob Nophoto"))
    db.commit()
    token = _api_token(signed_in, csrf_token, db)
    headers = {"Authorization": f"Bearer {token}"}

    with_photo = client.get("/api/v1/signatures/ada@acme.example?compose=new", headers=headers)
    assert with_photo.status_code == 200
    found = re.search(r'<img src="([^"]+)"', with_photo.json["html"])
    assert found, with_photo.json["html"]
    address = found.group(1).replace("&amp;", "&")
    assert address.startswith("http") and "/photos/" in address  # absolute: mail clients fetch it
    path = address[address.index("/photos/"):]
    image = app.test_client().get(path)  # a mail recipient: no session, no token
    assert image.status_code == 200 and image.mimetype == "image/jpeg"
    assert image.data.startswith(b"\xff\xd8")

    without = client.get("/api/v1/signatures/bob@acme.example?compose=new", headers=headers)
    assert without.status_code == 200
    assert "<img" not in without.json["html"] and "End" in without.json["html"]
