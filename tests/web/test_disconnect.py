"""Disconnect: the choice between keeping and deleting the synced employees, with counts, and a typed confirmation."""

from __future__ import annotations

import pytest
from sqlmodel import select

from portal import connections
from portal.db import get_engine
from portal.models import AuditEvent, Connection, Employee
from tests.web.conftest import OTHER_ADMIN_EMAIL, OTHER_ADMIN_PASSWORD, AuthActions, hx, read_csrf_token

TENANT = "5f1c2d3e-4b5a-4c6d-8e7f-9a0b1c2d3e4f"


@pytest.fixture
def connection(config, db, org) -> Connection:
    """Acme connected, with 3 employees the sync created, 1 manual one it linked, and 1 never synced."""
    connected = connections.connect_delegated(get_engine(config.database_url), org, TENANT, b"cache", "it@acme.example")
    for n in range(3):
        db.add(Employee(organization_id=org.id, email=f"synced{n}@acme.example", source="m365",
                        m365_id=f"user-{n}", created_by_sync=True))
    db.add(Employee(organization_id=org.id, email="linked@acme.example", source="m365", m365_id="user-linked"))
    db.add(Employee(organization_id=org.id, email="typed@acme.example", source="manual"))
    db.commit()
    return connected


def post(client, **data: str):
    token = read_csrf_token(client, "/connect/")
    return client.post("/connect/disconnect", data={"csrf_token": token, **data})


def employees(db) -> dict[str, tuple[str, str | None]]:
    db.expire_all()
    return {e.email: (e.source, e.m365_id) for e in db.exec(select(Employee)).all()}


def test_the_form_says_how_many_each_choice_affects(signed_in, connection):
    page = signed_in.get("/connect/disconnect").get_data(as_text=True)
    assert "What happens to the 4 employees synced from Microsoft 365?" in page
    assert "All 4 stay in Sigsync as manual employees" in page
    assert "3 employees the sync created are deleted;\n        1 you had added yourself" in page
    assert '<label for="employees-keep">Keep them</label>' in page
    assert '<label for="employees-delete">Delete them</label>' in page
    assert '<label for="confirm">To confirm, type Acme GmbH or DISCONNECT</label>' in page
    assert '<button type="submit" class="button button-danger">Disconnect</button>' in page
    # Reached from the connection page and from Settings.
    assert 'href="/connect/disconnect"' in signed_in.get("/connect/").get_data(as_text=True)


def test_keep_turns_every_synced_employee_into_a_manual_one(signed_in, db, org, admin, connection):
    response = post(signed_in, employees="keep", confirm="DISCONNECT")
    assert response.status_code == 303 and response.headers["Location"].endswith("/connect/")
    assert employees(db) == {
        "synced0@acme.example": ("manual", None), "synced1@acme.example": ("manual", None),
        "synced2@acme.example": ("manual", None), "linked@acme.example": ("manual", None),
        "typed@acme.example": ("manual", None),
    }
    row = db.get(Connection, connection.id)
    assert row.state == "disconnected" and row.token_cache is None
    [event] = db.exec(select(AuditEvent).where(AuditEvent.action == "disconnected")).all()
    assert event.actor == admin.email and event.details["kept"] == 4 and event.details["deleted"] == 0
    page = signed_in.get("/connect/").get_data(as_text=True)
    assert "Microsoft 365 is disconnected. 0 synced employees were deleted and 4 kept as manual employees." in page
    assert "Connect with Microsoft</button>" in page


def test_delete_removes_those_the_sync_created_and_keeps_the_rest(signed_in, db, org, connection):
    response = post(signed_in, employees="delete", confirm="acme gmbh")  # the name, in any case
    assert response.status_code == 303
    assert employees(db) == {"linked@acme.example": ("manual", None), "typed@acme.example": ("manual", None)}
    [event] = db.exec(select(AuditEvent).where(AuditEvent.action == "disconnected")).all()
    assert event.details == {"tenant_id": TENANT, "kept_employees": False, "deleted": 3, "kept": 1}


@pytest.mark.parametrize(("data", "field", "message"), [
    ({"confirm": "DISCONNECT"}, "employees", "Choose whether to keep the synced employees or delete them."),
    ({"employees": "everything", "confirm": "DISCONNECT"}, "employees", "Choose whether to keep"),
    ({"employees": "delete", "confirm": "disconnect please"}, "confirm",
     "Type Acme GmbH (your organisation&#39;s name) or DISCONNECT to confirm."),
    ({"employees": "delete"}, "confirm", "Type Acme GmbH"),
])
def test_bad_input_changes_nothing_and_says_what_to_fix(signed_in, db, connection, data, field, message):
    response = post(signed_in, **data)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in page
    assert f'id="{field}-error"' in page and 'aria-invalid="true"' in page
    if data.get("employees") == "delete":
        assert 'value="delete" checked' in page  # the choice made is kept
    db.expire_all()
    assert db.get(Connection, connection.id).state == "active"
    assert len(employees(db)) == 5


def test_a_stale_form_sent_twice_says_it_is_already_disconnected(signed_in, db, connection):
    token = read_csrf_token(signed_in, "/connect/disconnect")
    data = {"csrf_token": token, "employees": "delete", "confirm": "DISCONNECT"}
    assert signed_in.post("/connect/disconnect", data=data).status_code == 303
    again = signed_in.post("/connect/disconnect", data=data, follow_redirects=True)
    page = again.get_data(as_text=True)
    assert "Microsoft 365 is already disconnected; nothing was changed." in page
    assert len(db.exec(select(AuditEvent).where(AuditEvent.action == "disconnected")).all()) == 1
    # The form itself is gone too.
    assert signed_in.get("/connect/disconnect").headers["Location"].endswith("/connect/")


def test_a_running_sync_blocks_disconnect_with_words_to_act_on(signed_in, db, connection):
    from datetime import timedelta

    from portal.models import utcnow
    row = db.get(Connection, connection.id)
    row.lock_run_id, row.lock_expires_at = 7, utcnow() + timedelta(minutes=5)
    db.add(row)
    db.commit()
    response = post(signed_in, employees="keep", confirm="DISCONNECT")
    assert response.status_code == 409
    assert "A sync is running for this connection. Wait for it to finish, then disconnect." in response.get_data(
        as_text=True)
    db.expire_all()
    assert db.get(Connection, connection.id).state == "active"


def test_csrf_is_required(signed_in, db, connection):
    response = signed_in.post("/connect/disconnect", data={"employees": "delete", "confirm": "DISCONNECT"})
    assert response.status_code == 400
    htmx = signed_in.post("/connect/disconnect", data={"employees": "delete", "confirm": "DISCONNECT"}, headers=hx())
    assert htmx.status_code == 400
    assert db.get(Connection, connection.id).state == "active" and len(employees(db)) == 5


def test_anonymous_is_sent_to_sign_in(client, admin, db, connection):
    assert "/signin" in client.get("/connect/disconnect").headers["Location"]
    token = read_csrf_token(client, "/signin")
    response = client.post("/connect/disconnect", data={"csrf_token": token, "employees": "delete",
                                                        "confirm": "DISCONNECT"})
    assert response.status_code == 302 and "/signin" in response.headers["Location"]
    assert db.get(Connection, connection.id).state == "active"


def test_another_organisations_admin_cannot_disconnect_it(app, db, connection, other_org_admin):
    other = app.test_client()
    AuthActions(other).sign_in(OTHER_ADMIN_EMAIL, OTHER_ADMIN_PASSWORD)
    assert other.get("/connect/disconnect").status_code == 303
    response = post(other, employees="delete", confirm="Globex Corp")
    assert response.status_code == 303
    db.expire_all()
    assert db.get(Connection, connection.id).state == "active" and len(employees(db)) == 5
