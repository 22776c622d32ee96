"""Bytes on the wire of a streamed response: chunked framing, the HTTP-integration prelude, error trailers."""

import json

# Function URLs and API Gateway split the prelude from the payload at the first 8 NUL bytes.
DELIMITER = b"\0" * 8
LAST_CHUNK = b"0\r\n\r\n"
TRAILER_NAMES = "Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body"


def prelude(status: int, headers: dict[str, str], cookies: list[str]) -> bytes:
    """The JSON that gives the Function URL / API Gateway status and headers, then the delimiter."""
    meta = {"statusCode": status, "headers": headers, "cookies": cookies}
    return json.dumps(meta, separators=(",", ":")).encode() + DELIMITER


def chunk(data: bytes) -> bytes:
    """One HTTP/1.1 chunk. Never call with empty data: a zero-length chunk ends the body."""
    return b"".join((b"%x\r\n" % len(data), data, b"\r\n"))


def error_trailer(error: dict) -> bytes:
    """The last chunk with the error trailers Lambda reads when a body fails after streaming began."""
    import base64

    body = base64.b64encode(json.dumps(error, separators=(",", ":")).encode())
    error_type = header_value(error.get("errorType") or "Unhandled").encode()
    return (
        b"0\r\n"
        b"Lambda-Runtime-Function-Error-Type: " + error_type + b"\r\n"
        b"Lambda-Runtime-Function-Error-Body: " + body + b"\r\n"
        b"\r\n"
    )


def header_value(text: str) -> str:
    """Printable ASCII only: a CR or LF inside a trailer makes Lambda report Runtime.TruncatedResponse."""
    return "".join(c for c in text if " " <= c <= "~").strip() or "Unhandled"
