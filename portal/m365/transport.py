"""The one kind of HTTP session Sigsync uses toward Microsoft: pinned CA bundle, timeouts, User-Agent."""

from __future__ import annotations

from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from config import Config

USER_AGENT = "Sigsync/1.0 (+https://github.com/sigsync; email signatures; read-only directory sync)"


class PinnedSession(requests.Session):
    """A Session whose CA bundle and timeout win over the environment.

    ``requests`` lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override ``Session.verify``
    (merge_environment_settings), and our machines set both to the system bundle; so the
    configured bundle is forced here, once, for every request this session sends.
    """

    def __init__(self, ca_bundle: str = "", timeout: tuple[float, float] = (10.0, 30.0)) -> None:
        super().__init__()
        self.ca_bundle = ca_bundle
        self.timeout = timeout
        self.headers["User-Agent"] = USER_AGENT
        self.last_status: int | None = None  # of the latest answer, for errors MSAL can't parse
        self.hooks["response"].append(self._remember_status)

    def _remember_status(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self.last_status = response.status_code

    def merge_environment_settings(self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any) -> dict:
        settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
        # An explicit verify=False/path from a caller is respected; "default" means our bundle.
        if self.ca_bundle and verify in (None, True):
            settings["verify"] = self.ca_bundle
        return settings

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", self.timeout)
        return super().request(method, url, *args, **kwargs)


def timeouts(config: Config) -> tuple[float, float]:
    """(connect, read) timeouts from SIGSYNC_HTTP_TIMEOUT: connecting should never take long."""
    read = float(max(1, config.http_timeout))
    return (min(10.0, read), read)


def graph_session(config: Config) -> PinnedSession:
    """A keep-alive session for Graph; retries are the GraphClient's job, not urllib3's."""
    session = PinnedSession(config.ca_bundle, timeouts(config))
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=8, max_retries=0)
    session.mount("https://", adapter)
    return session


def identity_session(config: Config) -> PinnedSession:
    """A session for MSAL, which does no retries of its own when given a client: retry what is safe to repeat."""
    session = PinnedSession(config.ca_bundle, timeouts(config))
    retry = Retry(
        total=3,
        connect=3,  # the request never reached the server: always safe
        read=2,  # an answer lost on the way back: repeat only GETs (discovery), never a token POST
        allowed_methods=frozenset({"GET"}),
        status=0,
        other=0,
        backoff_factor=0.5,
        # Throttling and 5xx answers go to MSAL, which understands and caches them; urllib3 must not eat them.
        respect_retry_after_header=False,
        raise_on_status=False,
    )
    session.mount("https://", HTTPAdapter(max_retries=retry))
    return session
