"""The signature order on the Departments page: up and down as plain forms (the page comes back with the moved
row's button focused and the new position said), as htmx (the order alone, the focus kept, the position
announced in the status region), at the ends (nothing moves, nothing recorded), other organisations and CSRF."""

from __future__ import annotations

import re

from sqlmodel import Session, select

from portal.models import AuditEvent, Department, Organization, SignatureTemplate
from portal.signatures import service

from .conftest import OTHER_ADMIN_EMAIL, OTHER_ADMIN_PASSWORD, hx


def _departments(db: Session, org: Organization, *names: str) -> dict[str, int]:
    rows = [Department(organization_id=org.id, name=name) for name in names]
    db.add_all(rows)
    db.commit()
    return {row.name: row.id for row in rows}


def _order(html: str) -> list[str]:
    table = html[html.index('id="signature-order-table"'):]
    table = table[:table.index("</table>")]
    return re.findall(r'<th scope="row">([^<]*)</th>', table)


def _focused(html: str) -> list[str]:
    return re.findall(r'id="(order-(?:up|down)-\d+)" autofocus', html)


def _order_events(db: Session, org: Organization) -> list[str]:
    db.expire_all()
    return list(db.exec(select(AuditEvent.summary).where(AuditEvent.organization_id == org.id,
                                                         AuditEvent.action == "signature_order_changed")))


def test_the_departments_page_shows_the_order_with_each_departments_signatures(signed_in, db, org) -> None:
    ids = _departments(db, org, "Sales", "Berlin", "Research")
    standard = SignatureTemplate(organization_id=org.id, name="Standard", html="<p>{{ full_name }}</p>")
    db.add(standard)
    db.commit()
    service.assign(db, org.id, f"department:{ids['Sales']}", "new", standard.id)
    db.commit()
    page = signed_in.get("/departments/").get_data(as_text=True)
    assert _order(page) == ["Berlin", "Research", "Sales"]  # nothing placed yet: by name
    sales_row = page[page.index('<th scope="row">Sales</th>'):]
    sales_row = sales_row[:sales_row.index("</tr>")]
    assert "<td>Standard</td>" in sales_row and "<td>as for new e-mails</td>" in sales_row
    # the first has no "up", the last no "down"; each button says which department it moves
    assert re.findall(r"Move<span class=\"visually-hidden\"> (\w+)</span> (up|down)", page) == [
        ("Berlin", "down"), ("Research", "up"), ("Research", "down"), ("Sales", "up")]
    assert 'href="/signatures/#departments"' in page
    assert _focused(page) == []


def test_a_plain_form_moves_and_comes_back_with_the_focus_on_the_moved_row(signed_in, csrf_token, db, org) -> None:
    ids = _departments(db, org, "Sales", "Berlin", "Research")
    token = csrf_token(signed_in, "/departments/")
    response = signed_in.post(f"/departments/{ids['Sales']}/signature-order/up", data={"csrf_token": token})
    assert response.status_code == 303
    assert response.headers["Location"] == f"/departments/?moved={ids['Sales']}&direction=up#signature-order"
    page = signed_in.get(response.headers["Location"]).get_data(as_text=True)
    assert _order(page) == ["Berlin", "Sales", "Research"]
    assert _focused(page) == [f"order-up-{ids['Sales']}"]
    assert "Sales is now 2 of 3 in the signature order, above Research." in page
    # to the top: "up" is gone, so the row's "down" button takes the focus
    signed_in.post(f"/departments/{ids['Sales']}/signature-order/up", data={"csrf_token": token})
    page = signed_in.get(f"/departments/?moved={ids['Sales']}&direction=up").get_data(as_text=True)
    assert _order(page) == ["Sales", "Berlin", "Research"]
    assert _focused(page) == [f"order-down-{ids['Sales']}"]
    assert _order_events(db, org) == [
        "Moved the department Sales up in the signature order, from position 3 to 2 of 3 (above Research).",
        "Moved the department Sales up in the signature order, from position 2 to 1 of 3 (above Berlin)."]
    # a forged focus is ignored, not an error
    assert _focused(signed_in.get("/departments/?moved=abc&direction=sideways").get_data(as_text=True)) == []


def test_htmx_gets_the_order_alone_with_the_focus_kept_and_the_position_announced(signed_in, csrf_token, db,
                                                                                  org) -> None:
    ids = _departments(db, org, "Sales", "Berlin", "Research")
    token = csrf_token(signed_in, "/departments/")
    response = signed_in.post(f"/departments/{ids['Berlin']}/signature-order/down", headers=hx(token))
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith('<section class="panel" aria-labelledby="signature-order-title" '
                                    'id="signature-order">')
    assert "<h1" not in body and "departments-table" not in body
    assert _order(body) == ["Research", "Berlin", "Sales"]
    assert _focused(body) == [f"order-down-{ids['Berlin']}"]
    status = body[body.index('<div id="status"'):]
    assert 'role="status" aria-live="polite" hx-swap-oob="true"' in status
    assert "Berlin is now 2 of 3 in the signature order, below Research." in status
    # every button posts back into the same section
    assert body.count('hx-target="#signature-order" hx-swap="outerHTML"') == 4


def test_at_either_end_nothing_moves_and_nothing_is_recorded(signed_in, csrf_token, db, org) -> None:
    ids = _departments(db, org, "Sales", "Berlin")
    token = csrf_token(signed_in, "/departments/")
    response = signed_in.post(f"/departments/{ids['Berlin']}/signature-order/up", headers=hx(token))
    body = response.get_data(as_text=True)
    assert _order(body) == ["Berlin", "Sales"]
    assert "Berlin is already first in the signature order." in body
    assert _focused(body) == [f"order-down-{ids['Berlin']}"]
    signed_in.post(f"/departments/{ids['Sales']}/signature-order/down", data={"csrf_token": token})
    assert "Sales is already last in the signature order." in signed_in.get("/departments/").get_data(as_text=True)
    assert _order_events(db, org) == []


def test_bad_directions_other_organisations_and_missing_csrf_are_refused(client, auth, csrf_token, db, org,
                                                                         other_org_admin) -> None:
    ids = _departments(db, org, "Sales", "Berlin")
    auth.sign_in()
    token = csrf_token(client, "/departments/")
    assert client.post(f"/departments/{ids['Sales']}/signature-order/sideways",
                       data={"csrf_token": token}).status_code == 404
    assert client.post(f"/departments/{ids['Sales']}/signature-order/up").status_code == 400
    auth.sign_out()
    auth.sign_in(OTHER_ADMIN_EMAIL, OTHER_ADMIN_PASSWORD)
    token = csrf_token(client, "/departments/")
    assert client.post(f"/departments/{ids['Sales']}/signature-order/up", data={"csrf_token": token}).status_code \
        == 404
    assert _order_events(db, org) == []


def test_no_departments_says_how_to_get_some(signed_in) -> None:
    page = signed_in.get("/departments/").get_data(as_text=True)
    assert "No departments yet: create one above, or let the sync make them from Microsoft 365." in page


def test_a_departments_page_shows_its_signatures_and_place_in_the_order(signed_in, db, org) -> None:
    ids = _departments(db, org, "Sales", "Berlin", "Research")
    standard = SignatureTemplate(organization_id=org.id, name="Standard", html="<p>{{ full_name }}</p>")
    db.add(standard)
    db.commit()
    service.assign(db, org.id, f"department:{ids['Research']}", "new", standard.id)
    db.commit()
    page = signed_in.get(f"/departments/{ids['Research']}").get_data(as_text=True)
    facts = re.sub(r"\s+", " ", page[page.index('<dl class="facts">'):page.index("</dl>")])
    assert "<dd>New e-mails: Standard; replies and forwards: as for new e-mails " \
           '(<a href="/signatures/#departments">choose signatures</a>)</dd>' in facts
    assert '<dd>2 of 3 (<a href="/departments/#signature-order">change the order</a>)</dd>' in facts
    page = signed_in.get(f"/departments/{ids['Sales']}").get_data(as_text=True)
    assert "New e-mails: none; replies and forwards: none" in re.sub(r"\s+", " ", page)


def test_deleting_a_department_with_signatures_and_a_place_in_the_order(signed_in, csrf_token, db, org) -> None:
    ids = _departments(db, org, "Sales", "Berlin")
    standard = SignatureTemplate(organization_id=org.id, name="Standard", html="<p>{{ full_name }}</p>")
    db.add(standard)
    db.commit()
    service.assign(db, org.id, f"department:{ids['Sales']}", "new", standard.id)
    service.move(db, org.id, ids["Sales"], -1)  # every department placed
    db.commit()
    confirm = re.sub(r"\s+", " ", signed_in.get(f"/departments/{ids['Sales']}/delete").get_data(as_text=True))
    assert "Its signatures are no longer assigned (the signatures themselves stay)" in confirm
    token = csrf_token(signed_in, "/departments/")
    response = signed_in.post(f"/departments/{ids['Sales']}/delete", data={"csrf_token": token})
    assert response.status_code == 303
    db.expire_all()
    assert db.get(Department, ids["Sales"]) is None and db.get(SignatureTemplate, standard.id) is not None
    assert service.department_rows(db, org.id)[0].department.name == "Berlin"
    assert service.where_used(db, org.id, standard.id) == []
    assert "Its signatures" not in signed_in.get(f"/departments/{ids['Berlin']}/delete").get_data(as_text=True)
