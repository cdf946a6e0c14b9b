"""The one Microsoft Graph client: reads only, pages and delta streamed, retries and typed errors.

Everything Sigsync asks Graph goes through ``GraphClient._send``, which refuses anything but GET
and ``POST $batch`` of GETs: Microsoft is never written to.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple, Protocol
from urllib.parse import quote, urlencode, urlsplit

import requests

from config import Config
from portal.m365.errors import (
    ConsentRequired,
    DeltaExpired,
    GraphError,
    GraphThrottled,
    GraphUnavailable,
    ReadOnlyViolation,
)
from portal.m365.retry import RETRY_STATUSES, RetryPolicy, parse_retry_after
from portal.m365.transport import graph_session, timeouts

log = logging.getLogger(__name__)

PAGE_SIZE = 999  # Graph's maximum $top for users, groups and membership lists
BATCH_SIZE = 20  # Graph's limit of requests per $batch
_DELTA_RESET_CODES = frozenset({"syncstatenotfound", "resyncrequired"})
_PERMISSION_CODES = frozenset({"authorization_requestdenied", "accessdenied"})
_NOT_FOUND = 404
# Network failures worth another try. SSLError is a ConnectionError but retrying a bad certificate never helps.
_TRANSIENT = (requests.ConnectionError, requests.Timeout, requests.exceptions.ChunkedEncodingError)


class TokenSource(Protocol):
    """Anything that hands out Graph access tokens (auth.TokenProvider in the product)."""

    def access_token(self, force_refresh: bool = False) -> str: ...


@dataclass
class GraphStats:
    """Counters the benchmark prints: what one client cost Graph and us."""

    requests: int = 0  # HTTP requests sent (each retry counts)
    retries: int = 0
    throttled: int = 0  # 429 answers, batch items included
    bytes: int = 0  # response bytes received
    waited: float = 0.0  # seconds spent sleeping before retries

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class DeltaPage:
    """One page of a delta round: changed users, removed ids with Graph's reason, and the final link."""

    users: list[dict[str, Any]] = field(default_factory=list)
    removed: list[tuple[str, str]] = field(default_factory=list)  # (id, "changed" = soft-deleted | "deleted")
    delta_link: str | None = None  # set on the round's last page only: store it for the next run


class BatchResponse(NamedTuple):
    """One answer inside a $batch: status, headers and body as Graph gave them."""

    status: int
    headers: dict[str, str]
    body: Any


class GraphClient:
    """Read-only Microsoft Graph client with paging, delta, $batch, retries and typed errors."""

    def __init__(
        self,
        config: Config,
        token_provider: TokenSource,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_retries: int = 6,
        policy: RetryPolicy | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._base = config.graph_url.rstrip("/")
        self._origin = _origin(self._base)
        self._tokens = token_provider
        self._session = session or graph_session(config)
        self._timeout = timeouts(config)
        self._sleep = sleep
        self._policy = policy or RetryPolicy(max_retries=max_retries)
        self._rng = rng or random.Random()
        self.stats = GraphStats()

    def close(self) -> None:
        """Close the keep-alive connections."""
        self._session.close()

    def __enter__(self) -> GraphClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- reading -------------------------------------------------------------------------------------

    def get(
        self, url_or_path: str, params: Mapping[str, Any] | None = None, headers: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        """GET one JSON resource; a full URL (e.g. a nextLink) is used exactly as given."""
        response = self._request("GET", self._url(url_or_path, params), headers=headers)
        return _json(response)

    def iter_pages(
        self, path: str, params: Mapping[str, Any] | None = None, headers: Mapping[str, str] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Yield each page of a collection, following @odata.nextLink verbatim (headers re-sent every page)."""
        page = self.get(path, params, headers)
        while True:
            yield page
            next_link = page.get("@odata.nextLink")
            if not next_link:
                return
            page = self.get(next_link, headers=headers)

    def iter_values(
        self, path: str, params: Mapping[str, Any] | None = None, headers: Mapping[str, str] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Yield the items of every page of a collection."""
        for page in self.iter_pages(path, params, headers):
            yield from page.get("value", [])

    def iter_delta(
        self,
        path_or_delta_link: str,
        select: Iterable[str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Iterator[DeltaPage]:
        """Stream a delta round page by page: "users/delta" starts one; a deltaLink (or a 410's Location) continues."""
        params = None
        if not _is_absolute(path_or_delta_link) and select:
            # $select is encoded into Graph's tokens: it belongs on the initial request only.
            params = {"$select": ",".join(select)}
        page = self.get(path_or_delta_link, params, headers)
        while True:
            next_link = page.get("@odata.nextLink")
            delta_link = page.get("@odata.deltaLink")
            yield _delta_page(page, None if next_link else delta_link)
            if next_link:
                page = self.get(next_link, headers=headers)  # empty pages with a nextLink are followed too
            elif delta_link:
                return
            else:
                raise GraphError(200, "invalidDeltaResponse", "a delta page had neither nextLink nor deltaLink")

    def user(self, user_id: str, select: Iterable[str] | None = None) -> dict[str, Any]:
        """One user by id or userPrincipalName."""
        return self.get(f"users/{_segment(user_id)}", _select(select))

    def manager(self, user_id: str, select: Iterable[str] | None = None) -> dict[str, Any] | None:
        """A user's manager, or None when they have none (Graph answers 404 by design)."""
        return self._optional(f"users/{_segment(user_id)}/manager", _select(select))

    def photo_bytes(self, user_id: str) -> bytes | None:
        """A user's profile photo, or None when there is none."""
        url = self._url(f"users/{_segment(user_id)}/photo/$value")
        try:
            response = self._request("GET", url, headers={"Accept": "image/*"})
        except GraphError as exc:
            if exc.status == _NOT_FOUND:
                return None
            raise
        return response.content

    def count_users(self) -> int:
        """How many users the tenant has (``/users/$count``, an advanced query: text/plain)."""
        response = self._request("GET", self._url("users/$count"), headers={"ConsistencyLevel": "eventual"})
        return int(response.text.strip())

    def group(self, group_id: str, select: Iterable[str] | None = None) -> dict[str, Any]:
        """One group by id."""
        return self.get(f"groups/{_segment(group_id)}", _select(select))

    def list_groups(
        self,
        filter: str | None = None,  # noqa: A002 - Graph's own word
        select: Iterable[str] | None = None,
        search: str | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every group matching an OData filter and/or a $search, 999 per page."""
        params: dict[str, Any] = {"$top": PAGE_SIZE, **_select(select)}
        headers: dict[str, str] = {}
        if filter:
            params["$filter"] = filter
        if search:
            # $search needs the advanced-query header; $count=true keeps filter+search combinations legal.
            params["$search"] = search
            params["$count"] = "true"
            headers["ConsistencyLevel"] = "eventual"
        return self.iter_values("groups", params, headers or None)

    def transitive_user_ids(self, group_id: str) -> Iterator[str]:
        """Ids of every user in a group, nested groups flattened, 999 per request."""
        path = f"groups/{_segment(group_id)}/transitiveMembers/microsoft.graph.user"
        for item in self.iter_values(path, {"$select": "id", "$top": PAGE_SIZE}):
            yield str(item["id"])

    def batch_get(self, urls: Sequence[str] | Mapping[str, str]) -> dict[str, BatchResponse]:
        """GET many relative URLs through $batch (20 per request); keys are the mapping's ids or list positions."""
        items = dict(urls) if isinstance(urls, Mapping) else {str(i): url for i, url in enumerate(urls)}
        results: dict[str, BatchResponse] = {}
        for chunk in _chunks(list(items.items()), BATCH_SIZE):
            results.update(self._batch_chunk(dict(chunk)))
        return results

    # --- internals -----------------------------------------------------------------------------------

    def _batch_chunk(self, pending: dict[str, str]) -> dict[str, BatchResponse]:
        """One $batch of ≤20 GETs; throttled or failed items are re-sent after the longest Retry-After."""
        done: dict[str, BatchResponse] = {}
        retry, waited = 0, 0.0
        url = self._url("$batch")
        while True:
            body = {"requests": [{"id": i, "method": "GET", "url": self._relative(u)} for i, u in pending.items()]}
            answers = {str(a.get("id")): a for a in _json(self._request("POST", url, body=body)).get("responses", [])}
            again: dict[str, str] = {}
            waits: list[float | None] = []
            last_status = 503
            for item_id, item_url in pending.items():
                answer = answers.get(item_id)
                status = int(answer.get("status", 0)) if answer else 503  # a missing answer: ask again
                headers = {str(k): str(v) for k, v in ((answer or {}).get("headers") or {}).items()}
                if status in RETRY_STATUSES:
                    self.stats.throttled += int(status == 429)
                    again[item_id] = item_url
                    waits.append(parse_retry_after(_header(headers, "Retry-After")))
                    last_status = status
                else:
                    done[item_id] = BatchResponse(status, headers, (answer or {}).get("body"))
            if not again:
                return done
            retry += 1
            given = [w for w in waits if w is not None]
            delay = self._policy.delay(retry, max(given) if given else None, self._rng)
            self._wait_or_give_up(retry, delay, waited, last_status, f"{len(again)} batch item(s) got {last_status}")
            waited += delay
            pending = again

    def _optional(self, path: str, params: Mapping[str, Any] | None) -> dict[str, Any] | None:
        try:
            return self.get(path, params)
        except GraphError as exc:
            if exc.status == _NOT_FOUND:
                return None
            raise

    def _request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: dict[str, Any] | None = None,
    ) -> requests.Response:
        """Send with retries; return a 2xx response or raise the typed error."""
        _guard_read_only(method, url, body)
        retry, waited, refreshed = 0, 0.0, False
        while True:
            try:
                response = self._send(method, url, headers, body)
            except requests.exceptions.SSLError:
                raise GraphUnavailable(1, "Graph's TLS certificate is not trusted (check REQUESTS_CA_BUNDLE)") from None
            except _TRANSIENT as exc:
                status, retry_after, problem = 0, None, f"connection error ({type(exc).__name__})"
            else:
                status = response.status_code
                if status < 400:
                    return response
                if status == 401 and not refreshed:
                    # An expired or revoked access token: refresh once, then believe the 401.
                    refreshed = True
                    self._tokens.access_token(force_refresh=True)
                    continue
                if status not in RETRY_STATUSES:
                    raise _error_for(response)
                self.stats.throttled += int(status == 429)
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                problem = f"HTTP {status}"
            retry += 1
            delay = self._policy.delay(retry, retry_after, self._rng)
            self._wait_or_give_up(retry, delay, waited, status, problem)
            waited += delay

    def _wait_or_give_up(self, retry: int, delay: float, waited: float, status: int, problem: str) -> None:
        """Sleep before retry number ``retry``, or raise when retries or the waiting budget are spent."""
        if retry > self._policy.max_retries or waited + delay > self._policy.budget:
            log.warning("Graph: giving up after %d attempts and %.1f s of waiting (%s)", retry, waited, problem)
            if status == 429:
                raise GraphThrottled(retry, waited)
            raise GraphUnavailable(retry, problem, status or 503)
        log.info("Graph: %s; retry %d in %.2f s", problem, retry, delay)
        self.stats.retries += 1
        self.stats.waited += delay
        self._sleep(delay)

    def _send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        body: dict[str, Any] | None,
    ) -> requests.Response:
        """One HTTP exchange with a fresh client-request-id; nothing about auth reaches the log."""
        request_id = str(uuid.uuid4())
        all_headers = {
            "Accept": "application/json",
            **(headers or {}),
            "Authorization": f"Bearer {self._tokens.access_token()}",
            "client-request-id": request_id,
            "return-client-request-id": "true",
        }
        started = time.monotonic()
        self.stats.requests += 1
        response = self._session.request(method, url, headers=all_headers, json=body, timeout=self._timeout)
        self.stats.bytes += len(response.content)
        log.debug(
            "Graph %s %s -> %s in %.0f ms (client-request-id %s)",
            method,
            urlsplit(url).path,
            response.status_code,
            (time.monotonic() - started) * 1000,
            request_id,
        )
        return response

    def _url(self, url_or_path: str, params: Mapping[str, Any] | None = None) -> str:
        if _is_absolute(url_or_path):
            # The bearer token must only ever travel to our Graph host, whatever a link says.
            if _origin(url_or_path) != self._origin:
                raise GraphError(0, "foreignLink", f"refusing to follow a link outside {self._origin}")
            url = url_or_path
        else:
            url = f"{self._base}/{url_or_path.lstrip('/')}"
        if params:
            # Keep OData's $ , ( ) ' readable, as Graph's docs write them; everything else is percent-encoded.
            query = urlencode({k: str(v) for k, v in params.items()}, quote_via=quote, safe="$,()'")
            url = f"{url}{'&' if '?' in url else '?'}{query}"
        return url

    def _relative(self, url: str) -> str:
        """A batch item's URL relative to the version root, as $batch wants it."""
        if _is_absolute(url):
            if not url.startswith(self._base + "/"):
                raise GraphError(0, "foreignLink", f"batch URL outside {self._base}")
            return url[len(self._base) :]
        return "/" + url.lstrip("/")


# --- helpers ---------------------------------------------------------------------------------------------


def _guard_read_only(method: str, url: str, body: dict[str, Any] | None) -> None:
    """Refuse anything that could change Microsoft 365: GET and $batch of GETs only."""
    path = urlsplit(url).path
    if method == "GET":
        return
    if method == "POST" and path.endswith("/$batch"):
        inner = [str(r.get("method", "")).upper() for r in (body or {}).get("requests", [])]
        if inner and all(m == "GET" for m in inner):
            return
    raise ReadOnlyViolation(f"refusing to send {method} {path} to Microsoft Graph: Sigsync only reads")


def _error_for(response: requests.Response) -> Exception:
    """Map a non-retryable error answer to the typed error the engine and admin understand."""
    status = response.status_code
    code, message, request_id = _error_fields(response)
    codes = {c.lower() for c in _all_codes(response)} | {code.lower()}
    if status == 401:
        return ConsentRequired(
            "Microsoft Graph rejected the access token even after a refresh", status=status, code=code
        )
    if status == 403 and codes & _PERMISSION_CODES:
        return ConsentRequired(f"a Graph permission is missing: {message or code}", status=status, code=code)
    if status == 410 or (status == 400 and codes & _DELTA_RESET_CODES):
        return DeltaExpired(status, code or "Gone", message, request_id, response.headers.get("Location", ""))
    return GraphError(status, code, message, request_id)


def _error_body(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else {}


def _error_fields(response: requests.Response) -> tuple[str, str, str]:
    error = _error_body(response)
    inner = error.get("innerError") or error.get("innererror") or {}
    request_id = (
        response.headers.get("request-id") or (inner.get("request-id") if isinstance(inner, dict) else None) or ""
    )
    message = str(error.get("message") or response.reason or "")[:500]
    return str(error.get("code") or ""), message, str(request_id)


def _all_codes(response: requests.Response) -> list[str]:
    """The error code and every nested innerError code (Graph nests the specific one at times)."""
    codes, node = [], _error_body(response)
    while isinstance(node, dict) and node:
        if node.get("code"):
            codes.append(str(node["code"]))
        node = node.get("innerError") or node.get("innererror")
    return codes


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise GraphError(
            response.status_code, "invalidResponse", "Graph answered with something other than JSON"
        ) from None
    if not isinstance(body, dict):
        raise GraphError(response.status_code, "invalidResponse", "Graph answered with JSON that is not an object")
    return body


def _delta_page(page: Mapping[str, Any], delta_link: str | None) -> DeltaPage:
    users: list[dict[str, Any]] = []
    removed: list[tuple[str, str]] = []
    for item in page.get("value", []):
        marker = item.get("@removed")
        if marker is not None:
            removed.append((str(item.get("id")), str((marker or {}).get("reason", ""))))
        else:
            users.append(item)
    return DeltaPage(users, removed, delta_link)


def _select(select: Iterable[str] | None) -> dict[str, str]:
    return {"$select": ",".join(select)} if select else {}


def _segment(value: str) -> str:
    """An id or UPN as one safe path segment (a guest UPN's # must become %23)."""
    return quote(str(value), safe="@'")


def _header(headers: Mapping[str, str], name: str) -> str | None:
    lowered = name.lower()
    return next((v for k, v in headers.items() if k.lower() == lowered), None)


def _is_absolute(url: str) -> bool:
    return url.startswith(("https://", "http://"))


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
