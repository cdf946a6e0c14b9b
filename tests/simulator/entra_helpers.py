"""Helpers for driving the simulated Entra ID like a browser and a client would."""

from __future__ import annotations

import base64
import hashlib
import html
import re
import secrets
from urllib.parse import parse_qsl, urlencode, urlsplit

import requests

USER_SCOPES = ("https://graph.microsoft.com/User.Read.All https://graph.microsoft.com/Group.Read.All "
               "openid profile offline_access")


def authorize_url(sim_server, tenant: str | None = None, **params) -> str:
    """An /authorize URL for the registered app; keyword arguments change or drop (None) parameters."""
    settings = sim_server.sim.settings
    query = {"client_id": settings.client_id, "response_type": "code", "redirect_uri": settings.redirect_uris[0],
             "scope": USER_SCOPES, "state": "st-123", **params}
    query = {k: v for k, v in query.items() if v is not None}
    return f"{sim_server.base_url}/{tenant or settings.tenant_id}/oauth2/v2.0/authorize?{urlencode(query)}"


class TrustingSession(requests.Session):
    """A requests session that verifies against one CA on every request.

    requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override Session.verify (this machine sets
    both), so the CA has to be passed per request to be sure it is the one used.
    """

    def __init__(self, ca_path: str) -> None:
        super().__init__()
        self.ca_path = ca_path

    def request(self, method, url, *args, **kwargs):
        kwargs.setdefault("verify", self.ca_path)
        return super().request(method, url, *args, **kwargs)


def assert_aadsts(answer, status: int, error: str, code: int) -> dict:
    """Check a /token error is an AADSTS body as Entra sends it; returns the body."""
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["error"] == error
    assert body["error_codes"] == [code]
    assert body["error_description"].startswith(f"AADSTS{code}: ")
    for line in ("\r\nTrace ID: ", "\r\nCorrelation ID: ", "\r\nTimestamp: "):
        assert line in body["error_description"]
    assert body["error_uri"].endswith(f"/error?code={code}")
    assert answer.headers["Cache-Control"] == "no-store, no-cache"
    assert answer.headers["Pragma"] == "no-cache"
    return body


def pkce_pair() -> tuple[str, str]:
    """A PKCE code_verifier and its S256 code_challenge."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def hidden_value(page: str, name: str) -> str:
    """The value of a hidden input on an HTML page."""
    found = re.search(rf'name="{re.escape(name)}" value="([^"]*)"', page)
    assert found, f"no {name} on the page"
    return html.unescape(found.group(1))


def form_action(page: str, base_url: str) -> str:
    """The absolute action URL of the first form on a page."""
    action = html.unescape(re.search(r'<form[^>]*action="([^"]+)"', page).group(1))
    return action if action.startswith("https://") else base_url + action


def redirect_params(answer: requests.Response) -> dict[str, str]:
    """What the app's redirect URI receives: from the query, the fragment or a form_post page."""
    if answer.status_code == 302:
        location = urlsplit(answer.headers["Location"])
        return dict(parse_qsl(location.fragment or location.query))
    assert answer.status_code == 200, answer.text
    fields = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', answer.text)
    return {name: html.unescape(value) for name, value in fields}
