"""Reading usage from an answer while its bytes pass through, without changing or delaying them.

The SSE tap looks at event names only and decodes JSON just for ``message_start``, ``message_delta`` and
``error``: the thousands of ``content_block_delta`` events of a long answer cost a ``find`` each.
"""

from __future__ import annotations

import orjson

from overspill.usage.events import TokenUsage

_EVENT_END = b"\n\n"
_DECODED_EVENTS = (b"event: message_start", b"event: message_delta", b"event: error")
_MAX_JSON_BODY = 16 * 1024 * 1024  # a non-streamed answer bigger than this is relayed but not read


class AnswerTap:
    """What was learned from an answer: tokens, model, stop reason, an error type."""

    def __init__(self) -> None:
        self.tokens = TokenUsage()
        self.model: str | None = None
        self.stop_reason: str | None = None
        self.error_type: str | None = None

    def feed(self, chunk: bytes) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def finish(self) -> None:
        """Called once when the answer ended (completely or not)."""

    def _read_message(self, message: dict) -> None:
        self.model = message.get("model") or self.model
        self.stop_reason = message.get("stop_reason") or self.stop_reason
        usage = message.get("usage")
        if isinstance(usage, dict):
            self.tokens.merge(usage)


class SseTap(AnswerTap):
    def __init__(self) -> None:
        super().__init__()
        self._pending = b""

    def feed(self, chunk: bytes) -> None:
        data = self._pending + chunk if self._pending else chunk
        start = 0
        while (end := data.find(_EVENT_END, start)) >= 0:
            if data.startswith(_DECODED_EVENTS, start):
                self._decode(data[start:end])
            start = end + 2
        self._pending = data[start:]

    def _decode(self, event: bytes) -> None:
        for line in event.split(b"\n"):
            if line.startswith(b"data:"):
                try:
                    payload = orjson.loads(line[5:])
                except orjson.JSONDecodeError:
                    return
                break
        else:
            return
        if not isinstance(payload, dict):
            return
        kind = payload.get("type")
        if kind == "message_start" and isinstance(payload.get("message"), dict):
            self._read_message(payload["message"])
        elif kind == "message_delta":
            delta = payload.get("delta")
            if isinstance(delta, dict) and delta.get("stop_reason"):
                self.stop_reason = delta["stop_reason"]
            if isinstance(payload.get("usage"), dict):
                self.tokens.merge(payload["usage"])
        elif kind == "error" and isinstance(payload.get("error"), dict):
            self.error_type = payload["error"].get("type") or "error"


class JsonTap(AnswerTap):
    def __init__(self) -> None:
        super().__init__()
        self._parts: list[bytes] = []
        self._size = 0

    def feed(self, chunk: bytes) -> None:
        self._size += len(chunk)
        if self._size <= _MAX_JSON_BODY:
            self._parts.append(chunk)

    def finish(self) -> None:
        if not self._parts or self._size > _MAX_JSON_BODY:
            return
        try:
            body = orjson.loads(b"".join(self._parts))
        except orjson.JSONDecodeError:
            return
        finally:
            self._parts = []
        if not isinstance(body, dict):
            return
        if body.get("type") == "error" and isinstance(body.get("error"), dict):
            self.error_type = body["error"].get("type") or "error"
        else:
            self._read_message(body)


def tap_for(content_type: str | None) -> AnswerTap:
    if content_type and content_type.startswith("text/event-stream"):
        return SseTap()
    return JsonTap()
