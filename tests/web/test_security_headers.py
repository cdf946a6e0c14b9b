"""Every response carries the security headers; no page needs an inline script or style."""

from __future__ import annotations

import re

import pytest

from portal.app import CONTENT_SECURITY_POLICY
from tests.web.conftest import hx, sample_urls

SKIP_GET = {"health.healthz", "static", "auth.signout"}
# The Outlook add-in's files have a policy of their own (framed by Outlook): tests/addin/test_pages.py
SKIP_GET |= {"addin.manifest_xml", "addin.commands", "addin.taskpane", "addin.launchevent"}


def _directives(policy: str) -> dict[str, str]:
    return dict(part.strip().split(" ", 1) for part in policy.split(";") if part.strip())


def _assert_secure(response) -> None:
    headers = response.headers
    policy, base = _directives(headers["Content-Security-Policy"]), _directives(CONTENT_SECURITY_POLICY)
    # A page may let its forms reach one more origin (the connect page's redirect to Microsoft's
    # sign-in, which browsers check against form-action); every other directive is the app's.
    assert {k: v for k, v in policy.items() if k != "form-action"} == {
        k: v for k, v in base.items() if k != "form-action"}, headers["Content-Security-Policy"]
    assert policy["form-action"].startswith("'self'")
    assert policy["script-src"] == "'self'"
    assert "'unsafe-inline'" not in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "same-origin"


def _assert_no_inline_code(page: str) -> None:
    for tag in re.findall(r"<script\b[^>]*>", page):
        assert "src=" in tag, tag
    assert not re.search(r"<script\b[^>]*>\s*[^<\s]", page), "inline script"
    assert "<style" not in page
    assert not re.search(r"\sstyle=", page), "inline style attribute"
    assert not re.search(r"\son[a-z]+=", page), "inline event handler"


def test_every_page_anonymous_and_signed_in_is_covered(app, client, admin, auth):
    pages = ["/signin", "/no/such/page", "/static/app.css", "/healthz"]
    for url in pages:
        with client.get(url) as response:
            _assert_secure(response)
    auth.sign_in()
    checked = 0
    for _endpoint, url in sample_urls(app, "GET", skip=SKIP_GET):
        with client.get(url) as response:
            _assert_secure(response)
            if response.mimetype == "text/html":
                _assert_no_inline_code(response.get_data(as_text=True))
        checked += 1
    assert checked >= 3


def test_setup_page_is_covered(client, clean_db):
    response = client.get("/setup")
    _assert_secure(response)
    _assert_no_inline_code(response.get_data(as_text=True))


def test_htmx_fragments_and_redirects_carry_the_headers_too(signed_in):
    _assert_secure(signed_in.get("/audit/", headers=hx()))
    _assert_secure(signed_in.get("/no/such/page", headers=hx()))


@pytest.mark.parametrize("path", ["/", "/audit/"])
def test_pages_are_not_cached_and_vary_by_htmx(signed_in, path):
    response = signed_in.get(path)
    assert response.headers["Cache-Control"] == "no-store"
    assert "HX-Request" in response.headers["Vary"]


def test_htmx_is_told_not_to_inject_its_indicator_style(signed_in):
    page = signed_in.get("/").get_data(as_text=True)
    assert '"includeIndicatorStyles":false' in page
    assert '<script src="/static/vendor/htmx-2.0.11.min.js" defer></script>' in page


def test_the_session_cookie_is_http_only_and_same_site(auth, client):
    response = auth.sign_in()
    cookie = next(v for k, v in response.headers.items() if k == "Set-Cookie" and v.startswith("session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
