"""POST /v1.0/$batch: up to 20 requests in one call, answered item by item (concepts/json-batching.md).

The batch itself is 200 once it parses; each item has its own status, headers and body. Items are
served in dependency order, a dependent of a failed item gets 424, and the answers come back in a
shuffled (but repeatable) order, as Graph warns they may.
"""

from __future__ import annotations

import base64
import zlib
from collections.abc import Callable

from simulator import graph_errors as errors
from simulator.graph_core import ODATA_JSON, Context, GraphResponse

MAX_REQUESTS = 20  # json-batching.md; msgraph-sdk-python-core BatchRequestContent.MAX_REQUESTS

ServeItem = Callable[[dict], GraphResponse]


def run_batch(ctx: Context, serve_item: ServeItem) -> GraphResponse:
    """Validate the batch, serve its items through `serve_item`, and collect the answers."""
    items = _validated(ctx.request.body)
    by_id = {item["id"].lower(): item for item in items}
    answers: dict[str, dict] = {}
    for item in _dependency_order(items, by_id):
        failed = [d for d in item.get("dependsOn") or [] if answers[d.lower()]["status"] >= 400]
        if failed:
            answers[item["id"].lower()] = _failed_dependency(ctx, item)
            continue
        answers[item["id"].lower()] = _answer(item["id"], serve_item(item))
    ordered = sorted(answers.values(), key=lambda a: zlib.crc32(f"{len(items)}:{a['id']}".encode()))
    return GraphResponse(body={"responses": ordered})


def _validated(body: object) -> list[dict]:
    # Microsoft documents the rules but not the error texts for breaking them; these are plain English.
    requests = body.get("requests") if isinstance(body, dict) else None
    if not isinstance(requests, list) or not requests:
        raise errors.GraphError(400, "BadRequest", "Invalid batch payload format.")
    if len(requests) > MAX_REQUESTS:
        raise errors.GraphError(400, "BadRequest",
                                f"Batch request exceeds the maximum number of requests ({MAX_REQUESTS}).")
    seen: set[str] = set()
    for item in requests:
        if not isinstance(item, dict) or not all(isinstance(item.get(k), str) and item.get(k)
                                                 for k in ("id", "method", "url")):
            raise errors.GraphError(400, "BadRequest", "Every batch request needs an id, a method and a url.")
        if item["id"].lower() in seen:
            raise errors.GraphError(400, "BadRequest", f"Batch request ids must be unique: '{item['id']}'.")
        seen.add(item["id"].lower())
        headers = item.get("headers")
        if headers is not None and not isinstance(headers, dict):
            raise errors.GraphError(400, "BadRequest", f"Request '{item['id']}': headers must be an object.")
        if "body" in item and item["body"] is not None and not any(k.lower() == "content-type"
                                                                   for k in headers or {}):
            raise errors.GraphError(400, "BadRequest",
                                    f"Request '{item['id']}': a body needs a Content-Type header.")
    for item in requests:
        depends = item.get("dependsOn") or []
        if not isinstance(depends, list) or any(not isinstance(d, str) or d.lower() not in seen for d in depends):
            raise errors.GraphError(400, "BadRequest", f"Request '{item['id']}' depends on an unknown request.")
    return requests


def _dependency_order(items: list[dict], by_id: dict[str, dict]) -> list[dict]:
    done: set[str] = set()
    order: list[dict] = []
    pending = list(items)
    while pending:
        ready = [i for i in pending if all(d.lower() in done for d in i.get("dependsOn") or [])]
        if not ready:
            raise errors.GraphError(400, "BadRequest", "Batch requests have circular dependencies.")
        for item in ready:
            order.append(item)
            done.add(item["id"].lower())
        pending = [i for i in pending if i["id"].lower() not in done]
    return order


def _answer(item_id: str, response: GraphResponse) -> dict:
    headers = dict(response.headers)
    body = response.body
    if response.status < 400 and response.content_type == ODATA_JSON:
        headers.update({"Cache-Control": "no-cache", "OData-Version": "4.0", "Content-Type": ODATA_JSON})
    elif response.content_type:
        headers.setdefault("Content-Type", response.content_type)
        headers.setdefault("Cache-Control", "no-cache")
    if isinstance(body, bytes):  # binary bodies travel base64-encoded inside the JSON batch
        body = base64.b64encode(body).decode("ascii")
    for name in ("request-id", "client-request-id", "Strict-Transport-Security", "x-ms-ags-diagnostic"):
        headers.pop(name, None)
    return {"id": item_id, "status": response.status, "headers": headers, "body": body}


def _failed_dependency(ctx: Context, item: dict) -> dict:
    # 424 is documented for dependents of a failed request; its body text is not.
    error = errors.GraphError(424, "FailedDependency", "The request depends on a request that failed.")
    return {"id": item["id"], "status": 424, "headers": {"Content-Type": "application/json"},
            "body": error.body(ctx.request_id, ctx.client_request_id)}
