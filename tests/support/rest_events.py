"""The Lambda proxy event (payload v1) an API Gateway REST API delivers for an HTTP request, in the shape AWS
documents ("Input format of a Lambda function for proxy integration"), for the `/{proxy+}` and root `ANY` methods of
infra/components/rest_api.py. No binary media types are configured there, so a text body arrives as text."""

from __future__ import annotations

import base64
import time
import uuid
from typing import Any
from urllib.parse import parse_qsl

API_ID = "a1b2c3d4e5"
REGION = "us-east-1"
DOMAIN = f"{API_ID}.execute-api.{REGION}.amazonaws.com"


def rest_proxy_event(method: str, path: str, query: str, headers: list[tuple[str, str]], body: bytes, *,
                     stage: str = "dev", source_ip: str = "203.0.113.9", base_path: str = "",
                     binary: bool = False) -> dict[str, Any]:
    """``base_path``: the request came through a custom domain mapped at that base path (it then shows in ``path``
    and ``requestContext.path``, as API Gateway delivers it). ``binary``: the body arrives base64-encoded."""
    # API Gateway adds these to what the client sent (a regional endpoint: no CloudFront headers).
    sent = [("Host", DOMAIN), *headers, ("X-Amzn-Trace-Id", "Root=1-67a1b2c3-0123456789abcdef01234567"),
            ("X-Forwarded-For", source_ip), ("X-Forwarded-Port", "443"), ("X-Forwarded-Proto", "https")]
    multi_headers: dict[str, list[str]] = {}
    for name, value in sent:
        multi_headers.setdefault(name, []).append(value)
    multi_query: dict[str, list[str]] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        multi_query.setdefault(name, []).append(value)
    proxy = path.lstrip("/")
    resource = "/{proxy+}" if proxy else "/"
    if binary:
        encoded, is_base64 = base64.b64encode(body).decode(), True
    else:
        encoded, is_base64 = body.decode("utf-8"), False
    now = time.time()
    return {
        "resource": resource,
        "path": f"{base_path}{path}",
        "httpMethod": method,
        # The last value of a repeated header or parameter; every value is in the multi-value forms.
        "headers": {name: values[-1] for name, values in multi_headers.items()},
        "multiValueHeaders": multi_headers,
        "queryStringParameters": {name: values[-1] for name, values in multi_query.items()} or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": {"proxy": proxy} if proxy else None,
        "stageVariables": None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": API_ID,
            "domainName": DOMAIN,
            "domainPrefix": API_ID,
            "extendedRequestId": "Fv5a8EXAMPLE=",
            "httpMethod": method,
            "identity": {
                "accessKey": None, "accountId": None, "caller": None, "cognitoAuthenticationProvider": None,
                "cognitoAuthenticationType": None, "cognitoIdentityId": None, "cognitoIdentityPoolId": None,
                "principalOrgId": None, "sourceIp": source_ip, "user": None,
                "userAgent": multi_headers.get("User-Agent", [""])[-1], "userArn": None,
            },
            "path": f"{base_path or '/' + stage}{path}",
            "protocol": "HTTP/1.1",
            "requestId": str(uuid.uuid4()),
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "requestTimeEpoch": int(now * 1000),
            "resourceId": "abc123",
            "resourcePath": resource,
            "stage": stage,
        },
        "body": encoded if body else None,
        "isBase64Encoded": is_base64,
    }
