"""Lambda Function URL events (payload v2.0) in, streaming-runtime responses out.

The response is a dict in the HTTP-integration shape the streaming runtime (``layers/streaming``) and the
local Function URL emulator both take: ``statusCode``, ``headers``, ``cookies`` and a ``body`` that may be an
iterable of bytes with a ``close()`` called after the response has ended.
"""

from __future__ import annotations

import base64
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from overspill.proxy.request import ProxyRequest, ProxyResponse


def to_request(event: dict[str, Any], context: Any) -> ProxyRequest:
    received_at = time.perf_counter()
    http = event.get("requestContext", {}).get("http", {})
    body = event.get("body") or ""
    raw_body = base64.b64decode(body) if event.get("isBase64Encoded") else body.encode("utf-8", "surrogateescape")
    headers = [(name.lower(), value) for name, value in (event.get("headers") or {}).items()]
    if event.get("cookies"):
        headers.append(("cookie", "; ".join(event["cookies"])))
    request_id = getattr(context, "aws_request_id", None) or event.get("requestContext", {}).get("requestId")
    return ProxyRequest(
        method=http.get("method", "GET").upper(),
        path=event.get("rawPath") or http.get("path") or "/",
        query=event.get("rawQueryString") or "",
        headers=headers,
        body=raw_body,
        request_id=request_id or str(uuid.uuid4()),
        received_at=received_at,
        received_wall=datetime.now(UTC),
        source_ip=http.get("sourceIp"),
    )


def to_response(response: ProxyResponse) -> dict[str, Any]:
    return {
        "statusCode": response.status,
        "headers": response.headers,
        "cookies": response.cookies,
        "body": response.body,
    }
