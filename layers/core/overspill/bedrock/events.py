"""Bedrock's answer as the Anthropic answer the client expects.

Each ``chunk`` of InvokeModelWithResponseStream carries one Anthropic event as JSON, so the SSE for it is
``event: <type>\\ndata: <json>\\n\\n`` with the JSON passed through as received. Only two events are rewritten:
``message_start`` gets back the model name the client asked for (Bedrock reports its own id, and Claude Code
shows and records what it reads there), and ``message_stop`` loses Bedrock's
``amazon-bedrock-invocationMetrics``, which the translator keeps for usage accounting. The thousands of
``content_block_delta`` events of a long answer are never decoded: the event type is read from the JSON prefix.
"""

from __future__ import annotations

from typing import Any

import orjson

from overspill.errors import sse_error_event

METRICS_KEY = "amazon-bedrock-invocationMetrics"
_BEDROCK_ONLY_PREFIX = "amazon-bedrock-"
_TYPE_PREFIX = b'{"type":"'
_TYPE_START = len(_TYPE_PREFIX)
_REWRITTEN = frozenset({b"message_start", b"message_stop"})
_METRICS_USAGE = (
    ("inputTokenCount", "input_tokens"),
    ("outputTokenCount", "output_tokens"),
    ("cacheReadInputTokenCount", "cache_read_input_tokens"),
    ("cacheWriteInputTokenCount", "cache_creation_input_tokens"),
)


class StreamTranslator:
    """Turns the decoded ``bytes`` of each Bedrock ``chunk`` event into the SSE bytes of the Anthropic event."""

    __slots__ = ("requested_model", "invocation_metrics")

    def __init__(self, requested_model: str) -> None:
        self.requested_model = requested_model
        # Bedrock's own count of the answer (token counts, latencies), from the final message_stop; None before.
        self.invocation_metrics: dict[str, Any] | None = None

    def feed(self, event_json: bytes) -> bytes:
        """SSE bytes for one event. Raises ``ValueError`` if the chunk is not an Anthropic event."""
        if event_json.startswith(_TYPE_PREFIX):
            end = event_json.find(b'"', _TYPE_START)
            kind = event_json[_TYPE_START:end]
            # Fast path: the JSON goes out as it came. A newline would end the SSE data line early and a
            # Bedrock-only key must not reach the client; both are rare and take the slow path.
            if (end > _TYPE_START and kind not in _REWRITTEN and b"\\" not in kind and b"\n" not in event_json
                    and b"\r" not in event_json and b"amazon-bedrock-" not in event_json):
                return b"event: " + kind + b"\ndata: " + event_json + b"\n\n"
        return self._rewrite(event_json)

    def _rewrite(self, event_json: bytes) -> bytes:
        try:
            event = orjson.loads(event_json)
        except orjson.JSONDecodeError as e:
            raise ValueError(f"Bedrock sent a chunk that is not JSON: {e}") from None
        kind = event.get("type") if isinstance(event, dict) else None
        if not isinstance(kind, str) or not kind or any(c in kind for c in "\r\n"):
            raise ValueError("Bedrock sent a chunk that is not an Anthropic event (no type)")
        if kind == "message_stop" and isinstance(event.get(METRICS_KEY), dict):
            self.invocation_metrics = event[METRICS_KEY]
        cleaned = _without_bedrock_keys(event)
        if kind == "message_start" and isinstance(cleaned.get("message"), dict):
            cleaned["message"] = _as_requested(_without_bedrock_keys(cleaned["message"]), self.requested_model)
        elif cleaned is event and b"\n" not in event_json and b"\r" not in event_json:
            # Nothing to change after all (unusual spacing, "amazon-bedrock-" inside a text): pass it as it came.
            return b"event: " + kind.encode() + b"\ndata: " + event_json + b"\n\n"
        return b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(cleaned) + b"\n\n"


def translate_message(body: bytes, requested_model: str) -> bytes:
    """A non-streamed InvokeModel answer as the Anthropic message: the requested model, no Bedrock-only keys.

    Anything that is not a JSON message (an error body, garbage) is returned unchanged.
    """
    try:
        message = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body
    if not isinstance(message, dict) or message.get("type") != "message":
        return body
    return orjson.dumps(_as_requested(_without_bedrock_keys(message), requested_model))


def usage_from_metrics(metrics: dict[str, Any] | None) -> dict[str, int]:
    """Bedrock's invocation metrics as an Anthropic usage block (for ``TokenUsage.merge``)."""
    usage: dict[str, int] = {}
    for source, target in _METRICS_USAGE:
        value = (metrics or {}).get(source)
        if isinstance(value, int) and not isinstance(value, bool):
            usage[target] = value
    return usage


def sse_error(error_type: str, message: str) -> bytes:
    """An SSE ``error`` event, for a failure after the stream started (Claude Code retries without streaming)."""
    return sse_error_event(error_type, message)


def _as_requested(message: dict, requested_model: str) -> dict:
    message["model"] = requested_model  # replaces in place: key order is kept
    return message


def _without_bedrock_keys(obj: dict) -> dict:
    if not any(isinstance(k, str) and k.startswith(_BEDROCK_ONLY_PREFIX) for k in obj):
        return obj
    return {k: v for k, v in obj.items() if not k.startswith(_BEDROCK_ONLY_PREFIX)}
