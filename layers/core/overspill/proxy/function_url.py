"""Lambda events in, streaming-runtime responses out: Function URL events (payload v2.0), and API Gateway REST
proxy events (v1, read by ``rest_event``) for the optional REST front. One handler serves both.

The response is a dict in the HTTP-integration shape the streaming runtime (``layers/streaming``) and the
local Function URL emulator both take: ``statusCode``, ``headers``, ``cookies`` and a ``body`` that may be an
iterable of bytes with a ``close()`` called after the response has ended. Function URLs and API Gateway read the
same prelude, so the response does not depend on the door.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from overspill.observability import logger
from overspill.proxy import rest_event
from overspill.proxy.request import ProxyRequest, ProxyResponse
from overspill.proxy.rest_event import MalformedEvent, body_bytes, mapping

if TYPE_CHECKING:
    from overspill.proxy.pipeline import Proxy


def handle(event: Any, context: Any, proxy: Callable[[], Proxy]) -> dict[str, Any]:
    """An event from either door through the proxy; an event that cannot be read gets a 400, not a crash (an
    exception here would reach the client as Lambda's bare 502 or API Gateway's 500)."""
    try:
        request = to_request(event, context)
    except MalformedEvent as refusal:
        # The field only: the event itself holds the access key and the prompt.
        logger.warning("unreadable event", extra={"status": refusal.status, "field": refusal.field})
        request_id = getattr(context, "aws_request_id", None) or str(uuid.uuid4())
        headers = {**refusal.headers(), "x-overspill-request-id": request_id}
        return to_response(ProxyResponse(refusal.status, headers, refusal.body(request_id)))
    return to_response(proxy().handle(request))


def to_request(event: Any, context: Any) -> ProxyRequest:
    """The request an event describes; raises MalformedEvent when it cannot be read."""
    if not isinstance(event, dict):
        raise MalformedEvent("event", "is not a JSON object")
    if rest_event.is_rest_event(event):
        return rest_event.to_request(event, context)
    received_at = time.perf_counter()
    request_context = mapping(event, "requestContext")
    http = mapping(request_context, "http", "requestContext.http")
    raw_body = body_bytes(event)
    headers = [(name.lower(), value) for name, value in mapping(event, "headers").items()]
    cookies = event.get("cookies") or []
    if not all(isinstance(name, str) and isinstance(value, str) for name, value in headers):
        raise MalformedEvent("headers", "has a name or value that is not a string")
    if not isinstance(cookies, list) or not all(isinstance(cookie, str) for cookie in cookies):
        raise MalformedEvent("cookies", "is not a list of strings")
    if cookies:
        headers.append(("cookie", "; ".join(cookies)))
    method = http.get("method", "GET")
    path = event.get("rawPath") or http.get("path") or "/"
    query = event.get("rawQueryString") or ""
    for field, value in (("requestContext.http.method", method), ("rawPath", path), ("rawQueryString", query)):
        if not isinstance(value, str):
            raise MalformedEvent(field, "is not a string")
    request_id = getattr(context, "aws_request_id", None) or request_context.get("requestId")
    source_ip = http.get("sourceIp")
    return ProxyRequest(
        method=method.upper(),
        path=path,
        query=query,
        headers=headers,
        body=raw_body,
        request_id=request_id if isinstance(request_id, str) and request_id else str(uuid.uuid4()),
        received_at=received_at,
        received_wall=datetime.now(UTC),
        source_ip=source_ip if isinstance(source_ip, str) else None,
    )


def to_response(response: ProxyResponse) -> dict[str, Any]:
    return {
        "statusCode": response.status,
        "headers": response.headers,
        "cookies": response.cookies,
        "body": response.body,
    }
