"""The handler contract: what a handler may return, checked and normalised before any byte is sent."""

import json
from collections.abc import Callable, Iterable

_BYTES = (bytes, bytearray, memoryview)


class MarshalError(Exception):
    """The handler returned something that cannot become an HTTP response."""


class Response:
    __slots__ = ("body", "cookies", "headers", "status")

    def __init__(self, status: int, headers: dict[str, str], cookies: list[str], body: bytes | Iterable):
        self.status = status
        self.headers = headers
        self.cookies = cookies
        self.body = body  # bytes (sent at once) or an iterable of bytes (streamed chunk by chunk)


def body_closer(result: object) -> Callable[[], object] | None:
    """The body's close(), called once after the response ended, like a WSGI iterable's."""
    if isinstance(result, dict) and "statusCode" in result:
        close = getattr(result.get("body"), "close", None)
        if callable(close):
            return close
    return None


def from_result(result: object) -> Response:
    if not (isinstance(result, dict) and "statusCode" in result):
        # Lambda's rule for a return without statusCode: the whole value is a JSON body with status 200.
        try:
            payload = json.dumps(result).encode()
        except (TypeError, ValueError) as exc:
            raise MarshalError(f"Unable to marshal response: {exc}") from None
        return Response(200, {"content-type": "application/json"}, [], payload)

    status = result["statusCode"]
    if type(status) is not int or not 100 <= status <= 599:
        raise MarshalError(f"statusCode must be an int from 100 to 599, got {status!r}")
    headers = result.get("headers") or {}
    if not isinstance(headers, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        raise MarshalError("headers must be a dict of str to str")
    cookies = result.get("cookies") or []
    if not isinstance(cookies, list) or not all(isinstance(c, str) for c in cookies):
        raise MarshalError("cookies must be a list of str")
    return Response(status, headers, cookies, _body(result.get("body"), bool(result.get("isBase64Encoded"))))


def _body(body: object, base64_encoded: bool) -> bytes | Iterable:
    if body is None:
        return b""
    if isinstance(body, str):
        if not base64_encoded:
            return body.encode()
        import base64
        import binascii

        try:
            return base64.b64decode(body, validate=True)
        except binascii.Error as exc:
            raise MarshalError(f"isBase64Encoded is true but body is not base64: {exc}") from None
    if isinstance(body, _BYTES):
        return bytes(body)
    if hasattr(body, "__iter__") and not isinstance(body, dict):
        return body
    raise MarshalError(f"body must be None, str, bytes or an iterable of bytes, got {type(body).__name__}")


def check_chunk(item: object) -> bytes:
    if isinstance(item, bytes):
        return item
    if isinstance(item, (bytearray, memoryview)):
        return bytes(item)
    raise TypeError(f"body chunks must be bytes, got {type(item).__name__}")
