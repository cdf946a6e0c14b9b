"""Graph's error envelope and the errors the simulator answers with, worded as Microsoft words them.

Each message is the text Microsoft documents for Graph's throttling and error responses (and the recorded
samples in tests/simulator/graph_samples); where Microsoft published no text, a comment says so.
"""

from __future__ import annotations

import time

# 401s carry this challenge (recorded from graph.microsoft.com).
WWW_AUTHENTICATE = ('Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", '
                    'client_id="00000003-0000-0000-c000-000000000000"')


class GraphError(Exception):
    """An error Graph answers with: status, code, message, and any extra headers."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def body(self, request_id: str, client_request_id: str) -> dict:
        """The JSON envelope for this error."""
        if self.code == "TooManyRequests":
            return throttled_body(request_id)
        return error_body(self.code, self.message, request_id, client_request_id)


def _date() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime())


def error_body(code: str, message: str, request_id: str, client_request_id: str) -> dict:
    """{"error": {"code", "message", "innerError": {"date", "request-id", "client-request-id"}}}."""
    inner = {"date": _date(), "request-id": request_id, "client-request-id": client_request_id}
    return {"error": {"code": code, "message": message, "innerError": inner}}


def throttled_body(request_id: str) -> dict:
    """The 429 body, key for key as in Microsoft's throttling sample."""
    inner = {"code": "429", "date": _date(), "message": "Please retry after", "request-id": request_id, "status": "429"}
    return {"error": {"code": "TooManyRequests", "innerError": inner, "message": "Please retry again later."}}


# -- 400 ---------------------------------------------------------------------------------------


def bad_request(message: str, code: str = "Request_BadRequest") -> GraphError:
    """A 400 with the directory's generic code."""
    return GraphError(400, code, message)


def unsupported_query(message: str = "Unsupported Query.") -> GraphError:
    """400 Request_UnsupportedQuery (e.g. endsWith without the advanced query parameters)."""
    return GraphError(400, "Request_UnsupportedQuery", message)


def unsupported_filter_property(prop: str, resource: str) -> GraphError:
    """400 for a property the filter can't use (here: not without advanced query parameters)."""
    return unsupported_query(
        f"Unsupported or invalid query filter clause specified for property '{prop}' of resource '{resource}'.")


def count_not_supported() -> GraphError:
    """/$count without ConsistencyLevel: eventual."""
    return bad_request("$count is not currently supported.")


def search_needs_eventual() -> GraphError:
    """$search without ConsistencyLevel: eventual."""
    return unsupported_query("Request with $search query parameter only works through MSGraph with a special "
                             "request header: 'ConsistencyLevel: eventual'")


def sorting_not_supported() -> GraphError:
    """$orderby that needs the advanced query parameters."""
    return unsupported_query("Sorting not supported for current query.")


def invalid_page_size(value: str) -> GraphError:
    """$top outside 1..999 (observed wording)."""
    return unsupported_query(f"Invalid page size specified: '{value}'. Must be between 1 and 999 inclusive.")


def unknown_property(name: str, entity: str) -> GraphError:
    """$select/$filter naming a property the type doesn't have (observed wording)."""
    return bad_request(f"Could not find a property named '{name}' on type 'Microsoft.DirectoryServices.{entity}'.")


def unrecognized_argument(name: str) -> GraphError:
    """An OData option without its $ prefix on a directory resource (observed wording)."""
    return bad_request(f"Unrecognized query argument specified: '{name}'.")


def segment_not_found(segment: str) -> GraphError:
    """A path segment Graph doesn't know (observed wording)."""
    return GraphError(400, "BadRequest", f"Resource not found for the segment '{segment}'.")


def me_needs_delegated() -> GraphError:
    """/me with an app-only token."""
    return GraphError(400, "BadRequest", "/me request is only valid with delegated authentication flow.")


def sync_state_not_found() -> GraphError:
    """An expired or unknown delta token (devblog 2020-07-03)."""
    return GraphError(400, "syncStateNotFound", "The sync state generation is not found. The delta token is "
                      "expired and data must be synchronized again.")


# -- 401 / 403 / 404 ---------------------------------------------------------------------------


def invalid_token(message: str) -> GraphError:
    """401 InvalidAuthenticationToken with Graph's WWW-Authenticate challenge."""
    return GraphError(401, "InvalidAuthenticationToken", message, {"WWW-Authenticate": WWW_AUTHENTICATE})


def access_denied() -> GraphError:
    """403: the token lacks the permission (or asks to write with read-only permissions)."""
    return GraphError(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.")


def resource_not_found(key: str) -> GraphError:
    """404 for an unknown id/UPN (and for 'manager' when a user has none)."""
    return GraphError(404, "Request_ResourceNotFound",
                      f"Resource '{key}' does not exist or one of its queried reference-property objects are not "
                      "present.")


def image_not_found() -> GraphError:
    """404 for a photo that doesn't exist (observed wording)."""
    return GraphError(404, "ImageNotFound",
                      "Exception of type 'Microsoft.Fast.Profile.Core.Exception.ImageNotFoundException' was thrown.")


# -- 410 / 429 / 5xx ----------------------------------------------------------------------------


def resync_required(location: str) -> GraphError:
    """410 Gone: the delta state was reset; Location is the initial request (errors.md resyncRequired)."""
    return GraphError(410, "resyncRequired", "The delta token is no longer valid, and the app must reset the "
                      "sync state.", {"Location": location})


def throttled(retry_after: str | None) -> GraphError:
    """429 TooManyRequests with Retry-After (seconds)."""
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return GraphError(429, "TooManyRequests", "Please retry again later.", headers)


def unavailable(status: int, retry_after: str | None) -> GraphError:
    """503 (errors.md: serviceNotAvailable) or 504; Retry-After optional, as documented."""
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    if status == 503:
        return GraphError(503, "serviceNotAvailable", "The service is temporarily unavailable for maintenance or "
                          "is overloaded. You may repeat the request after a delay, the length of which may be "
                          "specified in a Retry-After header.", headers)
    # errors.md names no code for 504; UnknownError is what Graph's gateway uses for upstream failures.
    return GraphError(status, "UnknownError", "The server, while acting as a proxy, did not receive a timely "
                      "response from the upstream server it needed to access in attempting to complete the request.",
                      headers)


def not_implemented() -> GraphError:
    """501, e.g. $select of a property that can't be returned in a collection."""
    return GraphError(501, "NotImplemented", "This operation target is not yet supported.")
