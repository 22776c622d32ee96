"""Which headers cross the gateway, in each direction."""

from __future__ import annotations

import re

# RFC 9110 §7.6.1 hop-by-hop headers, plus what the connection to Anthropic sets for itself.
_NOT_FORWARDED = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection", "te",
    "trailer", "transfer-encoding", "upgrade", "host", "content-length", "accept-encoding",
})
# Added by Lambda Function URLs / API Gateway / CloudFront, not by the developer's client. (A client that sends
# them claims a proxy chain Anthropic has no reason to believe.)
_INFRASTRUCTURE_PREFIXES = ("x-amzn-", "x-forwarded-", "x-amz-cf-", "cloudfront-")
_INFRASTRUCTURE = frozenset({"forwarded", "via"})
# What HTTP/1.1 lets a header carry (RFC 9110 §5.1, §5.5): a token for a name, visible ASCII, spaces and tabs for a
# value. Anything else — CR, LF, NUL, other controls, non-ASCII — would corrupt or split the request to Anthropic.
_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_VALUE = re.compile(r"[\t\x20-\x7e]*")

# What Claude Code uses from Anthropic's answer; everything else (cookies, CDN headers) stays behind.
_RETURNED = frozenset({"content-type", "request-id", "retry-after", "x-should-retry"})
_RETURNED_PREFIXES = ("anthropic-",)


def to_upstream(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The client's headers for Anthropic: credentials, betas and session id included, unchanged."""
    connection_listed = {
        token.strip() for name, value in headers if name == "connection" for token in value.lower().split(",")
    }
    forwarded = [
        (name, value) for name, value in headers
        if name not in _NOT_FORWARDED and name not in connection_listed and name not in _INFRASTRUCTURE
        and not name.startswith(_INFRASTRUCTURE_PREFIXES)
    ]
    # Ask for the answer uncompressed: usage is read from it on the way, and SSE is not compressed anyway.
    forwarded.append(("accept-encoding", "identity"))
    return forwarded


def unsendable(forwarded: list[tuple[str, str]]) -> str | None:
    """The name of the first of these headers (``to_upstream``'s) that HTTP/1.1 cannot carry as it is, or None."""
    for name, value in forwarded:
        if _NAME.fullmatch(name) is None or _VALUE.fullmatch(value) is None:
            return name
    return None


def to_client(headers: list[tuple[str, str]]) -> dict[str, str]:
    returned: dict[str, str] = {}
    for name, value in headers:
        if name in _RETURNED or name.startswith(_RETURNED_PREFIXES):
            returned[name] = f"{returned[name]}, {value}" if name in returned else value
    return returned
