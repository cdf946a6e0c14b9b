"""portal.web, the helpers every page is built on: page or partial, redirects, scoping, safe paths."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from flask import flash
from werkzeug.exceptions import NotFound

from portal import audit, web
from portal.models import AuditEvent
from tests.web.conftest import hx, sample_urls


@pytest.fixture
def signed_in_request(app, signed_in):
    """A request context carrying the signed-in client's session cookie."""

    def make(**kwargs):
        cookie = signed_in.get_cookie("session")
        headers = {**kwargs.pop("headers", {}), "Cookie": f"session={cookie.value}"}
        return app.test_request_context(headers=headers, **kwargs)

    return make


def test_render_picks_the_page_for_browsers_and_the_partial_for_htmx(signed_in_request):
    with signed_in_request(path="/audit/"):
        page = web.render("audit/index.html", partial="audit/_events.html", **_audit_context())
        assert "<html" in page.get_data(as_text=True)
        assert "HX-Request" in page.vary
    with signed_in_request(path="/audit/", headers=hx()):
        fragment = web.render("audit/index.html", partial="audit/_events.html", **_audit_context())
        assert fragment.get_data(as_text=True).lstrip().startswith('<div id="audit-events">')
        assert "HX-Request" in fragment.vary


def test_a_history_restore_gets_the_whole_page(signed_in_request):
    with signed_in_request(path="/audit/", headers=hx(**{"HX-History-Restore-Request": "true"})):
        assert not web.is_htmx()
        response = web.render("audit/index.html", partial="audit/_events.html", **_audit_context())
        assert "<html" in response.get_data(as_text=True)


def test_flashed_messages_ride_along_with_a_partial_out_of_band(signed_in_request):
    with signed_in_request(path="/audit/", headers=hx()):
        flash("Settings saved.", "success")
        body = web.render("audit/index.html", partial="audit/_events.html", **_audit_context()).get_data(as_text=True)
    assert '<div id="status" class="status-region" role="status" aria-live="polite" hx-swap-oob="true">' in body
    assert '<p class="notice notice-success">Settings saved.</p>' in body


def test_redirect_is_a_303_for_forms_and_hx_redirect_for_htmx(app):
    with app.test_request_context("/", method="POST"):
        response = web.redirect("/audit/")
        assert (response.status_code, response.headers["Location"]) == (303, "/audit/")
    with app.test_request_context("/", method="POST", headers=hx()):
        response = web.redirect("/audit/")
        assert (response.status_code, response.headers["HX-Redirect"]) == (200, "/audit/")


def test_get_owned_or_404_never_returns_another_organisations_row(signed_in_request, db, org, other_org):
    mine = audit.record(db, org.id, "x", audit.Action.CONNECTED, "mine")
    theirs = audit.record(db, other_org.id, "y", audit.Action.CONNECTED, "theirs")
    db.commit()
    with signed_in_request(path="/"):
        assert web.current_org().id == org.id
        assert web.get_owned_or_404(AuditEvent, mine.id).summary == "mine"
        for ident in (theirs.id, 999_999):
            with pytest.raises(NotFound):
                web.get_owned_or_404(AuditEvent, ident)


@pytest.mark.parametrize("target, expected", [
    ("/employees?q=anna", "/employees?q=anna"),
    ("/", "/"),
    ("", None),
    (None, None),
    ("https://evil.example/", None),
    ("//evil.example", None),
    ("/\\evil.example", None),
    ("javascript:alert(1)", None),
    ("employees", None),
    ("/a\r\nSet-Cookie: x", None),
])
def test_local_path_keeps_only_paths_on_this_site(target, expected):
    assert web.local_path(target) == expected


def test_times_are_shown_in_the_organisations_time_zone(app):
    summer = datetime(2026, 7, 1, 10, 0, tzinfo=UTC)
    with app.test_request_context():
        assert web.format_when(summer, "Europe/Berlin") == "1 Jul 2026, 12:00"
        assert web.format_when(summer.replace(tzinfo=None), "America/New_York") == "1 Jul 2026, 06:00"
        assert web.format_when(None) == "—"
    assert web.format_iso(summer.replace(tzinfo=None)) == "2026-07-01T10:00:00+00:00"
    assert web.format_number(100000) == "100,000"


def test_the_navigation_lists_only_pages_that_exist(app, signed_in_request):
    with signed_in_request(path="/"):
        items = web.nav_items()
    endpoints = {label: endpoint for label, endpoint in web.NAV}
    assert [item.label for item in items] == [label for label, _ in web.NAV if endpoints[label] in app.view_functions]
    assert [item.label for item in items if item.current] == ["Dashboard"]


def _audit_context():
    return {"page": audit.EventPage(events=[], older=None), "older_url": None, "newest_url": None, "labels": {}}


def test_settings_nav_is_current_on_every_settings_page(signed_in):
    for path in ("/settings/", "/settings/mapping/", "/settings/rules/"):
        page = signed_in.get(path).get_data(as_text=True)
        assert '<a href="/settings/" aria-current="page">Settings</a>' in page, path


def test_every_page_has_a_plain_title_one_main_and_one_heading(app, signed_in):
    checked = 0
    for _endpoint, url in sample_urls(app, "GET", skip={"health.healthz", "static", "auth.signout"}):
        response = signed_in.get(url)
        if response.status_code != 200 or response.mimetype != "text/html":
            continue
        page = response.get_data(as_text=True)
        if "<html" not in page:
            continue  # a fragment (the signature preview frame's document has a title of its own below)
        title = re.search(r"<title>(.*?)</title>", page, flags=re.S)
        assert title and "<" not in title.group(1) and title.group(1).endswith("· Sigsync"), (url, title)
        assert page.count("<main") == 1 and len(re.findall(r"<h1[ >]", page)) == 1, url
        checked += 1
    assert checked >= 10
