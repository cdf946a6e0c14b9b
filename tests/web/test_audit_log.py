"""The audit log: recorded by the services, shown per organisation, newest first, a page at a time."""

from __future__ import annotations

import re

import pytest

from portal import audit
from tests.web.conftest import hx


def _rows(page: str) -> list[str]:
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r"<tr>(.*?)</tr>", body, flags=re.S)


def test_the_page_shows_the_organisations_events_newest_first(signed_in, db, org, other_org):
    audit.record(db, org.id, "ada@acme.example", audit.Action.SYNC_PAUSED, "Paused the sync.")
    audit.record(db, org.id, "command line", audit.Action.EMPLOYEE_EXCLUDED, "Excluded bob@acme.example.")
    audit.record(db, other_org.id, "grace@globex.example", audit.Action.DISCONNECTED, "Globex disconnected.")
    db.commit()
    page = signed_in.get("/audit/").get_data(as_text=True)
    assert "<h1>Audit log</h1>" in page
    assert "<th scope=\"col\">When</th>" in page and "<th scope=\"col\">Who</th>" in page
    assert "Globex disconnected." not in page and "grace@globex.example" not in page
    rows = _rows(page)
    assert "Excluded bob@acme.example." in rows[0] and "Employee excluded" in rows[0]
    assert "Paused the sync." in rows[1] and "Sync paused" in rows[1]
    assert "Signed in to the portal." in rows[2] and "ada@acme.example" in rows[2]  # the sign-in is recorded


def test_older_pages_follow_by_keyset(signed_in, db, org):
    for i in range(120):
        audit.record(db, org.id, "command line", audit.Action.SETTINGS_CHANGED, f"Change number {i:03}.")
    db.commit()
    first = signed_in.get("/audit/").get_data(as_text=True)
    assert len(_rows(first)) == audit.PAGE_SIZE
    assert "Change number 119." in first and "Change number 070." in first and "Change number 069." not in first
    older = re.search(r'<a href="(/audit/\?before=\d+)" rel="next">Older</a>', first).group(1)
    second = signed_in.get(older).get_data(as_text=True)
    assert "Change number 069." in second and "Change number 020." in second and "Change number 070." not in second
    older = re.search(r'<a href="(/audit/\?before=\d+)" rel="next">Older</a>', second).group(1)
    third = signed_in.get(older).get_data(as_text=True)
    assert len(_rows(third)) == 22  # 20 changes, the admin's creation and their sign-in
    assert 'rel="next"' not in third
    assert '<a href="/audit/" rel="prev">Newest</a>' in third


def test_a_guessed_cursor_shows_nothing_of_another_organisation(signed_in, db, org, other_org):
    secret = audit.record(db, other_org.id, "grace@globex.example", audit.Action.CONNECTED, "Globex secret.")
    db.commit()
    page = signed_in.get(f"/audit/?before={secret.id + 1}").get_data(as_text=True)
    assert "Globex secret." not in page


@pytest.mark.parametrize("before", ["abc", "-1", "1.5"])
def test_a_malformed_cursor_is_a_404(signed_in, before):
    assert signed_in.get(f"/audit/?before={before}").status_code == 404


def test_htmx_gets_only_the_table_partial(signed_in):
    response = signed_in.get("/audit/", headers=hx())
    body = response.get_data(as_text=True)
    assert body.lstrip().startswith('<div id="audit-events">')
    assert "<html" not in body
    assert "HX-Request" in response.headers["Vary"]


def test_the_dashboard_shows_recent_activity_and_links_the_log(signed_in, db, org):
    audit.record(db, org.id, "command line", audit.Action.ADMIN_CREATED, "Added admin lin@acme.example.")
    db.commit()
    page = signed_in.get("/").get_data(as_text=True)
    assert "Added admin lin@acme.example." in page
    assert "Signed in to the portal." not in page  # sign-ins are in the log, not in recent changes
    assert '<a href="/audit/">Audit log</a>' in page


def test_record_refuses_an_unknown_action(db, org):
    with pytest.raises(ValueError):
        audit.record(db, org.id, "x", "made_up", "nothing")
