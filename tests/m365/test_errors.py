"""Errors reach the admin in words they can act on, and Microsoft is never written to."""

import pytest

from portal.m365.errors import (
    ConsentRequired,
    DeltaExpired,
    GraphError,
    GraphThrottled,
    GraphUnavailable,
    M365Error,
    ReadOnlyViolation,
    TokenError,
    token_failure,
)
from portal.m365.graph import _guard_read_only

GRAPH = "https://graph.microsoft.com/v1.0"


@pytest.mark.parametrize(
    ("result", "kind"),
    [
        (
            {"error": "invalid_grant", "error_description": "AADSTS70008: expired"},
            ConsentRequired,
        ),
        ({"error": "interaction_required", "error_description": "AADSTS50076: MFA"}, ConsentRequired),
        ({"error": "consent_required"}, ConsentRequired),
        ({"error": "access_denied", "error_description": "the user canceled"}, ConsentRequired),
        ({"error": "invalid_client", "error_codes": [7000215]}, TokenError),
        ({"error": "invalid_scope"}, TokenError),
    ],
)
def test_msal_errors_become_consent_or_token_errors(result, kind):
    assert isinstance(token_failure(result), kind)


def test_token_error_keeps_the_human_part_only():
    error = token_failure(
        {
            "error": "invalid_client",
            "error_description": "AADSTS7000215: Invalid client secret provided.\r\nTrace ID: abc\r\nCorrelation ID: d",
            "error_codes": [7000215],
        }
    )
    assert "AADSTS7000215" in error.admin_message and "MS_CLIENT_SECRET" in error.admin_message
    assert "Trace ID" not in error.admin_message


@pytest.mark.parametrize(
    "error",
    [
        GraphError(400, "Request_UnsupportedQuery", "Unsupported Query.", "rid-1"),
        GraphThrottled(7, 290.0),
        GraphUnavailable(7, "HTTP 503"),
        DeltaExpired(410, "Gone"),
        ConsentRequired("refresh token revoked"),
        TokenError("invalid_client", "bad secret"),
    ],
)
def test_every_error_has_an_admin_message(error):
    assert isinstance(error, M365Error)
    assert error.admin_message and "Traceback" not in error.admin_message


def test_graph_error_carries_graphs_code_and_request_id():
    error = GraphError(404, "Request_ResourceNotFound", "Resource 'x' does not exist", "rid-9")
    assert (error.status, error.code, error.request_id) == (404, "Request_ResourceNotFound", "rid-9")
    assert "rid-9" in error.admin_message


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("GET", f"{GRAPH}/users", None),
        ("POST", f"{GRAPH}/$batch", {"requests": [{"id": "1", "method": "GET", "url": "/users/1"}]}),
    ],
)
def test_reads_pass_the_guard(method, url, body):
    _guard_read_only(method, url, body)


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("POST", f"{GRAPH}/users/1/checkMemberGroups", {"groupIds": ["g"]}),  # a read as POST: not needed
        ("PATCH", f"{GRAPH}/users/1", {"jobTitle": "x"}),
        ("DELETE", f"{GRAPH}/users/1", None),
        ("PUT", f"{GRAPH}/users/1/photo/$value", None),
        ("POST", f"{GRAPH}/users", {"displayName": "x"}),
        ("POST", f"{GRAPH}/$batch", {"requests": [{"id": "1", "method": "PATCH", "url": "/users/1"}]}),
        ("POST", f"{GRAPH}/$batch", {"requests": []}),
    ],
)
def test_anything_that_could_write_is_refused(method, url, body):
    with pytest.raises(ReadOnlyViolation):
        _guard_read_only(method, url, body)
