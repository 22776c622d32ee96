"""Anthropic-shaped errors: what a developer sees when Overspill itself answers.

Claude Code prints the message (``API Error: … · <message>``), so every message says what happened and
what to do. ``x-should-retry: false`` stops Claude Code's ten retries when retrying cannot help.
"""

from __future__ import annotations

import uuid

import orjson

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    503: "api_error",
    504: "api_error",
    529: "overloaded_error",
}


class GatewayError(Exception):
    """An error Overspill answers itself, before or instead of any upstream."""

    def __init__(self, status: int, message: str, *, should_retry: bool = False, reason: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.should_retry = should_retry
        # Why Overspill refused, finer than the error type (e.g. "budget_exhausted"): sent as a header and kept
        # in the usage event, so a 429 from a budget is never mistaken for the plan's own limit.
        self.reason = reason
        # A failed Bedrock fallback: the Bedrock model id it tried, for the usage event (finance and operators
        # see which model failed, not only which was asked for).
        self.tried_model_id: str | None = None

    @property
    def error_type(self) -> str:
        return ERROR_TYPES.get(self.status, "api_error")

    def body(self, request_id: str | None = None) -> bytes:
        return error_body(self.error_type, self.message, request_id)

    def headers(self) -> dict[str, str]:
        headers = {
            "content-type": "application/json",
            "x-should-retry": "true" if self.should_retry else "false",
            "x-overspill-error": self.error_type,
        }
        if self.reason:
            headers["x-overspill-refusal"] = self.reason
        return headers

    def __str__(self) -> str:
        return f"{self.status} {self.error_type}: {self.message}"


def error_body(error_type: str, message: str, request_id: str | None = None) -> bytes:
    return orjson.dumps({
        "type": "error",
        "error": {"type": error_type, "message": message},
        "request_id": request_id or f"req_overspill_{uuid.uuid4().hex}",
    })


def sse_error_event(error_type: str, message: str) -> bytes:
    """An SSE ``error`` event: Claude Code answers it by retrying at once without streaming."""
    payload = orjson.dumps({"type": "error", "error": {"type": error_type, "message": message}})
    return b"event: error\ndata: " + payload + b"\n\n"


INVALID_KEY_MESSAGE = (
    "Overspill rejected this access key: it is unknown, revoked or expired. Ask your Overspill admin for "
    "a new key and set ANTHROPIC_BASE_URL to the URL they give you."
)
MISSING_KEY_MESSAGE = (
    "Overspill needs an access key in the URL: set ANTHROPIC_BASE_URL to https://<gateway>/ak/<your key> "
    "(your Overspill admin can issue one)."
)
