"""API Gateway REST API events (Lambda proxy integration, payload v1) in: the same ProxyRequest a Function URL gives.

The optional REST front (``infra/components/rest_api.py``) invokes the proxy function with response streaming; the
function sees the v1 proxy event and answers with the same streamed prelude as for a Function URL. Everything that
differs between the two shapes is settled here, so the pipeline cannot tell which door a request came through:

- the path is the route's own, without the stage (``/dev``) or a custom domain's base path;
- repeated headers are joined with "," as Function URLs join them (cookies with "; ");
- the query string, which v1 only gives decoded and split, is rebuilt.

An event that cannot be read raises ``MalformedEvent`` (a 400 naming the field), never anything else.
"""

from __future__ import annotations

import base64
import binascii
import re
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

from overspill.errors import GatewayError
from overspill.proxy.request import ProxyRequest

GREEDY = "{proxy+}"
_METHOD = re.compile(r"[A-Za-z]{1,20}")


class MalformedEvent(GatewayError):
    """A Lambda event the gateway cannot read as an HTTP request: answered with a 400 naming the field."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(400, f"Overspill could not read this request: the Lambda event's {field!r} {problem}. "
                              "Send requests through the gateway's Function URL or API Gateway URL.")
        self.field = field


def is_rest_event(event: Mapping[str, Any]) -> bool:
    """A REST (v1) proxy event names its method at the top; a Function URL (v2.0) event never does."""
    return event.get("version") != "2.0" and "httpMethod" in event


def to_request(event: Mapping[str, Any], context: Any) -> ProxyRequest:
    received_at = time.perf_counter()
    method = event.get("httpMethod")
    if not isinstance(method, str) or not _METHOD.fullmatch(method):
        raise MalformedEvent("httpMethod", "is not an HTTP method")
    request_context = mapping(event, "requestContext")
    identity = mapping(request_context, "identity", "requestContext.identity")
    source_ip = identity.get("sourceIp")
    request_id = getattr(context, "aws_request_id", None) or request_context.get("requestId")
    return ProxyRequest(
        method=method.upper(),
        path=_path(event, request_context),
        query=_query(event),
        headers=_headers(event),
        body=body_bytes(event),
        request_id=request_id if isinstance(request_id, str) and request_id else str(uuid.uuid4()),
        received_at=received_at,
        received_wall=datetime.now(UTC),
        source_ip=source_ip if isinstance(source_ip, str) else None,
    )


def mapping(parent: Mapping[str, Any], key: str, field: str | None = None) -> Mapping[str, Any]:
    """An optional object member: absent or null reads as empty; anything but an object is malformed."""
    value = parent.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise MalformedEvent(field or key, "is not an object")
    return value


def body_bytes(event: Mapping[str, Any]) -> bytes:
    """The request body exactly as the client sent it (both event shapes carry it the same way)."""
    body = event.get("body")
    encoded = event.get("isBase64Encoded")
    if encoded not in (None, True, False):
        raise MalformedEvent("isBase64Encoded", "is not true or false")
    if body is None:
        return b""
    if not isinstance(body, str):
        raise MalformedEvent("body", "is not a string")
    if encoded:
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise MalformedEvent("body", "is marked base64 but is not valid base64") from None
    return body.encode("utf-8", "surrogateescape")


def _path(event: Mapping[str, Any], request_context: Mapping[str, Any]) -> str:
    resource = event.get("resource")
    proxy = mapping(event, "pathParameters").get("proxy")
    if isinstance(resource, str) and resource.endswith("/" + GREEDY) and isinstance(proxy, str):
        # The greedy parameter is what follows the resource: free of the stage and of a custom domain's base path
        # (both of which `path` and `requestContext.path` may carry).
        return resource.removesuffix(GREEDY) + proxy
    path = event.get("path")
    if isinstance(path, str) and path.startswith("/"):
        return path
    full, stage = request_context.get("path"), request_context.get("stage")
    if isinstance(full, str) and full.startswith("/"):
        prefix = f"/{stage}" if isinstance(stage, str) and stage else ""
        if prefix and (full == prefix or full.startswith(prefix + "/")):
            full = full[len(prefix):] or "/"
        return full
    raise MalformedEvent("path", "is missing")


def _headers(event: Mapping[str, Any]) -> list[tuple[str, str]]:
    # multiValueHeaders holds every value; headers only the last of a repeated one.
    multi = mapping(event, "multiValueHeaders")
    if multi:
        pairs = [(name, value) for name, values in multi.items() for value in _strings(values, "multiValueHeaders")]
    else:
        pairs = list(mapping(event, "headers").items())
    joined: dict[str, str] = {}
    for name, value in pairs:
        if not isinstance(name, str) or not isinstance(value, str):
            raise MalformedEvent("headers", "has a name or value that is not a string")
        name = name.lower()
        if name in joined:
            # What a Function URL delivers for a repeated header (its cookies come back as one "; " list).
            joined[name] += ("; " if name == "cookie" else ",") + value
        else:
            joined[name] = value
    return list(joined.items())


def _query(event: Mapping[str, Any]) -> str:
    multi = mapping(event, "multiValueQueryStringParameters")
    if multi:
        pairs = [(name, value) for name, values in multi.items()
                 for value in _strings(values, "multiValueQueryStringParameters")]
    else:
        pairs = list(mapping(event, "queryStringParameters").items())
    if not all(isinstance(name, str) and isinstance(value, str) for name, value in pairs):
        raise MalformedEvent("queryStringParameters", "has a name or value that is not a string")
    # v1 gives the parameters decoded; the upstream gets them re-encoded (Claude Code's `beta=true` unchanged).
    return urlencode(pairs, quote_via=quote)


def _strings(values: Any, field: str) -> list[Any]:
    if not isinstance(values, list):
        raise MalformedEvent(field, "has a value that is not a list")
    return values
