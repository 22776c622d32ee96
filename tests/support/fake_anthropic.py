"""A fake Anthropic Messages API: a real HTTP/1.1 server on loopback that speaks the real wire formats.

Integration and end-to-end tests point the gateway's upstream at it (the real ``anthropic`` SDK and the
real Claude Code CLI then talk to it through the gateway); benchmarks run it standalone::

    python -m tests.support.fake_anthropic --port 8099 --delay-ms 200 --event-interval-ms 20 --text-events 100

What it does (wire facts: /work/shared/PROTOCOL.md §1-3, §6):

- ``POST /v1/messages``: SSE when the body says ``"stream": true``, plain JSON otherwise; the reply text is
  "Hello from fake Anthropic", or X when a user message contains ``reply with: X``.
- ``POST /v1/messages/count_tokens``, ``GET /v1/models`` (and ``/v1/models/<id>``); anything else is a 404
  with Anthropic's error body. The query string (``?beta=true``) is ignored.
- Every request is recorded (method, path, headers in order and case, raw body bytes) before it is answered.
- One-shot :class:`Scenario` objects queued with :meth:`FakeAnthropic.enqueue` script the next answers
  (errors, plan limits, mid-stream failures, raw bytes, slow starts); :meth:`FakeAnthropic.set_default`
  replaces the default answer (benchmarks use it for token cadence); ``answers_by_credential`` answers each
  request whose credential holds a marker with that marker's scenario, every time (a load of many developers,
  some of whom are limited, through one fake).

Standard library only (orjson is used when importable, for benchmark speed).
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import json
import re
import secrets
import signal
import socket
import string
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from typing import Any

try:  # orjson is ~10x faster; it matters when a benchmark asks for 10,000 events per answer.
    import orjson

    def _dumps(obj: Any) -> bytes:
        return orjson.dumps(obj)

except ImportError:  # pragma: no cover - orjson is installed in the project venv

    def _dumps(obj: Any) -> bytes:
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


# ----------------------------------------------------------------------------------------------------
# Wire constants (PROTOCOL §3)
# ----------------------------------------------------------------------------------------------------

DEFAULT_REPLY = "Hello from fake Anthropic"
DEFAULT_MODEL = "claude-opus-4-8"

ERROR_TYPE_BY_STATUS = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}
STATUS_BY_ERROR_TYPE = {v: k for k, v in ERROR_TYPE_BY_STATUS.items()}
DEFAULT_ERROR_MESSAGES = {
    "invalid_request_error": "Invalid request",
    "authentication_error": "invalid x-api-key",
    "permission_error": "Your API key does not have permission to use the specified resource.",
    "not_found_error": "Not found",
    "request_too_large": "Request exceeds the maximum allowed number of bytes.",
    "rate_limit_error": "Number of request tokens has exceeded your per-minute rate limit",
    "api_error": "Internal server error",
    "overloaded_error": "Overloaded",
}

# Claim names (anthropic-ratelimit-unified-representative-claim) -> per-window header infix.
UNIFIED_WINDOWS = {
    "five_hour": "5h",
    "seven_day": "7d",
    "seven_day_opus": "7d_opus",
    "seven_day_sonnet": "7d_sonnet",
}

MODELS = [
    ("claude-opus-4-8", "Claude Opus 4.8", "2026-09-01T00:00:00Z"),
    ("claude-opus-4-7", "Claude Opus 4.7", "2026-06-01T00:00:00Z"),
    ("claude-sonnet-4-6", "Claude Sonnet 4.6", "2026-02-17T00:00:00Z"),
    ("claude-opus-4-6", "Claude Opus 4.6", "2026-02-05T00:00:00Z"),
    ("claude-opus-4-5-20251101", "Claude Opus 4.5", "2025-11-24T00:00:00Z"),
    ("claude-haiku-4-5-20251001", "Claude Haiku 4.5", "2025-10-15T00:00:00Z"),
    ("claude-sonnet-4-5-20250929", "Claude Sonnet 4.5", "2025-09-29T00:00:00Z"),
]

ROUTE_MESSAGES = "messages"
ROUTE_COUNT_TOKENS = "count_tokens"
ROUTE_MODELS = "models"
ANY_ROUTE = "*"

_BASE62 = string.digits + string.ascii_letters


def new_id(prefix: str) -> str:
    """An id shaped like Anthropic's (``msg_01…``, ``req_01…``, ``toolu_01…``)."""
    return prefix + "01" + "".join(secrets.choice(_BASE62) for _ in range(22))


def error_body(error_type: str, message: str, request_id: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "error", "error": {"type": error_type, "message": message}}
    if request_id is not None:
        body["request_id"] = request_id
    return body


def sse_event(event_type: str, data: Mapping[str, Any]) -> bytes:
    """One SSE event exactly as Anthropic frames it: ``event: <type>\\ndata: <json>\\n\\n``."""
    return b"event: " + event_type.encode() + b"\ndata: " + _dumps(data) + b"\n\n"


class Headers:
    """An ordered header list with case-insensitive replacement (later values win, first spelling kept)."""

    def __init__(self, items: Iterable[tuple[str, str]] | Mapping[str, str] | None = None) -> None:
        self._items: list[tuple[str, str]] = []
        self.update(items)

    def set(self, name: str, value: Any) -> None:
        lowered = name.lower()
        for i, (existing, _) in enumerate(self._items):
            if existing.lower() == lowered:
                self._items[i] = (existing, str(value))
                return
        self._items.append((name, str(value)))

    def update(self, items: Iterable[tuple[str, str]] | Mapping[str, str] | None) -> None:
        pairs = items.items() if isinstance(items, Mapping) else (items or [])
        for name, value in pairs:
            self.set(name, value)

    def get(self, name: str) -> str | None:
        lowered = name.lower()
        return next((v for k, v in self._items if k.lower() == lowered), None)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._items)


# ----------------------------------------------------------------------------------------------------
# What was received
# ----------------------------------------------------------------------------------------------------


@dataclass
class RecordedRequest:
    """One request as it arrived. ``body`` is the payload bytes exactly as sent (chunked framing removed)."""

    method: str
    path: str  # with the query string
    headers: list[tuple[str, str]]  # in arrival order, original case
    body: bytes
    received_at: float = field(default_factory=time.time)
    # Set by the server while answering: the client went away before the answer was complete.
    client_disconnected: bool = False
    # Set when the server is done with this request (answered, failed or cut off).
    finished: threading.Event = field(default_factory=threading.Event, repr=False, compare=False)

    def header(self, name: str, default: str | None = None) -> str | None:
        """The first value of a header, looked up case-insensitively."""
        lowered = name.lower()
        return next((v for k, v in self.headers if k.lower() == lowered), default)

    def header_values(self, name: str) -> list[str]:
        lowered = name.lower()
        return [v for k, v in self.headers if k.lower() == lowered]

    @property
    def route_path(self) -> str:
        """The path without its query string."""
        return self.path.split("?", 1)[0]

    def json(self) -> Any:
        return json.loads(self.body)


# ----------------------------------------------------------------------------------------------------
# Deriving an answer from a request
# ----------------------------------------------------------------------------------------------------

_REPLY_WITH = re.compile(r"reply with:[ \t]*([^\r\n]*)", re.IGNORECASE)


def _texts(content: Any) -> list[str]:
    """Text of a message's content: a string, text blocks, and tool_result contents (string or blocks)."""
    if isinstance(content, str):
        return [content]
    texts: list[str] = []
    for block in content if isinstance(content, list) else []:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "text" and isinstance(block.get("text"), str):
            texts.append(block["text"])
        elif block.get("type") == "tool_result":
            texts.extend(_texts(block.get("content")))
    return texts


def reply_text_for(body: Mapping[str, Any], default: str = DEFAULT_REPLY) -> str:
    """X when the latest user message mentioning ``reply with: X`` exists (an e2e test can then assert Claude
    Code printed exactly X; a tool_result saying it works too), else the default greeting."""
    messages = body.get("messages")
    for message in reversed(messages if isinstance(messages, list) else []):
        if not isinstance(message, dict) or message.get("role") != "user":
            continue
        for text in reversed(_texts(message.get("content"))):
            found = [m.strip() for m in _REPLY_WITH.findall(text) if m.strip()]
            if found:
                return found[-1]
    return default


def thinking_requested(body: Mapping[str, Any]) -> bool:
    thinking = body.get("thinking")
    return isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive")


def split_text(text: str, pieces: int | None) -> list[str]:
    """Cut ``text`` into ``pieces`` non-empty deltas (the real API never sends empty text deltas).

    ``None`` cuts after each word, like a token stream. When more pieces are asked for than the text has
    characters, the text is repeated (space-separated) until it is long enough: a benchmark asking for
    10,000 events gets 10,000 events.
    """
    if pieces is None:
        words = re.findall(r"\S+\s*|\s+", text)
        return words or [text]
    pieces = max(1, pieces)
    if len(text) < pieces:
        unit = text or "x"
        text = " ".join([unit] * -(-pieces // len(unit)))
    size, extra = divmod(len(text), pieces)
    out, start = [], 0
    for i in range(pieces):
        end = start + size + (1 if i < extra else 0)
        out.append(text[start:end])
        start = end
    return out


def estimate_tokens(n_chars: int) -> int:
    return max(1, n_chars // 4)


# ----------------------------------------------------------------------------------------------------
# A message to send: blocks, usage, and its two encodings (SSE events / one JSON document)
# ----------------------------------------------------------------------------------------------------


@dataclass
class _Block:
    start: dict[str, Any]  # content_block_start.content_block
    deltas: list[dict[str, Any]]  # content_block_delta.delta, in order
    final: dict[str, Any]  # the block in the assembled message


@dataclass
class _Message:
    id: str
    model: str
    blocks: list[_Block]
    stop_reason: str
    usage: dict[str, int]  # final totals: input, cache creation/read, output
    full_delta_usage: bool

    @property
    def _written_1h(self) -> int:
        return self.usage.get("cache_creation_1h_input_tokens", 0)

    def _usage(self, output_tokens: int) -> dict[str, Any]:
        return {
            "input_tokens": self.usage["input_tokens"],
            "cache_creation_input_tokens": self.usage["cache_creation_input_tokens"],
            "cache_read_input_tokens": self.usage["cache_read_input_tokens"],
            "cache_creation": {
                "ephemeral_5m_input_tokens": self.usage["cache_creation_input_tokens"] - self._written_1h,
                "ephemeral_1h_input_tokens": self._written_1h,
            },
            "output_tokens": output_tokens,
            "service_tier": "standard",
        }

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [b.final for b in self.blocks],
            "stop_reason": self.stop_reason,
            "stop_sequence": None,
            "usage": self._usage(self.usage["output_tokens"]),
        }

    def events(self) -> Iterator[tuple[str, dict[str, Any]]]:
        # message_start carries input and cache usage with a token or so of output, like the real API.
        start = {**self.as_json(), "content": [], "stop_reason": None, "usage": self._usage(1)}
        yield "message_start", {"type": "message_start", "message": start}
        for index, block in enumerate(self.blocks):
            yield (
                "content_block_start",
                {"type": "content_block_start", "index": index, "content_block": block.start},
            )
            if index == 0:  # the real API pings right after the first block opens
                yield "ping", {"type": "ping"}
            for delta in block.deltas:
                yield "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}
            yield "content_block_stop", {"type": "content_block_stop", "index": index}
        # message_delta usage is cumulative; newer models repeat the input and cache fields there.
        delta_usage: dict[str, Any] = {"output_tokens": self.usage["output_tokens"]}
        if self.full_delta_usage:
            delta_usage = {
                "input_tokens": self.usage["input_tokens"],
                "cache_creation_input_tokens": self.usage["cache_creation_input_tokens"],
                "cache_read_input_tokens": self.usage["cache_read_input_tokens"],
                **delta_usage,
            }
        yield (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": self.stop_reason, "stop_sequence": None},
                "usage": delta_usage,
            },
        )
        yield "message_stop", {"type": "message_stop"}


def _thinking_block(reply: str) -> _Block:
    thinking = f"The user wants an answer. I will reply: {reply}"
    signature = base64.b64encode(secrets.token_bytes(96)).decode()
    deltas: list[dict[str, Any]] = [
        {"type": "thinking_delta", "thinking": t} for t in split_text(thinking, None)
    ]
    deltas.append({"type": "signature_delta", "signature": signature})
    return _Block(
        start={"type": "thinking", "thinking": "", "signature": ""},
        deltas=deltas,
        final={"type": "thinking", "thinking": thinking, "signature": signature},
    )


def _text_block(text: str, events: int | None) -> _Block:
    return _Block(
        start={"type": "text", "text": ""},
        deltas=[{"type": "text_delta", "text": t} for t in split_text(text, events)],
        final={"type": "text", "text": text},
    )


def _tool_use_block(spec: Mapping[str, Any], id_prefix: str = "toolu_") -> _Block:
    tool_id = spec.get("id") or new_id(id_prefix)
    tool_input = spec.get("input", {})
    raw = json.dumps(tool_input)  # the real API's partial_json has ", " and ": " separators
    # The real API opens with an empty partial_json, then sends the JSON in a few pieces.
    pieces = [""] + split_text(raw, min(3, len(raw)))
    return _Block(
        start={"type": "tool_use", "id": tool_id, "name": spec["name"], "input": {}},
        deltas=[{"type": "input_json_delta", "partial_json": p} for p in pieces],
        final={"type": "tool_use", "id": tool_id, "name": spec["name"], "input": tool_input},
    )


# ----------------------------------------------------------------------------------------------------
# Scenarios: how to answer one request
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    """How to answer one request. Built by the static methods below; queued with ``FakeAnthropic.enqueue``.

    ``route`` says which endpoint consumes the scenario: ``"messages"`` (default), ``"count_tokens"``,
    ``"models"`` or ``"*"`` — so Claude Code's start-up calls to ``/v1/models`` do not eat a scripted 429.
    ``delay`` is slept before the status line and headers (time to first byte).
    """

    delay: float = 0.0
    route: str = ROUTE_MESSAGES

    def respond(self, exchange: Exchange) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    # ---- constructors ------------------------------------------------------------------------------------

    @staticmethod
    def stream(
        text: str | None = None,
        *,
        thinking: bool | None = None,
        tool_use: Mapping[str, Any] | list[Mapping[str, Any]] | None = None,
        text_events: int | None = None,
        event_delay: float = 0.0,
        delay: float = 0.0,
        stop_reason: str | None = None,
        usage: Mapping[str, int] | None = None,
        model: str | None = None,
        headers: Mapping[str, str] | None = None,
        full_delta_usage: bool = True,
    ) -> MessageScenario:
        """A successful message: SSE if the request streams, JSON otherwise (same content either way).

        ``text=None`` derives the reply from the request; ``""`` sends no text block. ``thinking=None``
        follows the request's ``thinking.type``. ``tool_use={"name", "input", ["id"]}`` (or a list) adds
        tool_use blocks and makes stop_reason ``tool_use``. ``usage`` overrides token counts
        (``input_tokens``, ``cache_creation_input_tokens``, ``cache_read_input_tokens``, ``output_tokens``, and
        ``cache_creation_1h_input_tokens``: how many of the cache writes were at the 1-hour TTL, default 0).
        """
        tools = [tool_use] if isinstance(tool_use, Mapping) else list(tool_use or [])
        return MessageScenario(
            delay=delay,
            text=text,
            thinking=thinking,
            tool_uses=tuple(dict(t) for t in tools),
            text_events=text_events,
            event_delay=event_delay,
            stop_reason=stop_reason,
            usage=dict(usage or {}),
            model=model,
            headers=dict(headers or {}),
            full_delta_usage=full_delta_usage,
        )

    message = stream  # the same answer; the request's "stream" decides the encoding

    @staticmethod
    def sse_error_mid_stream(
        after_events: int = 3,
        error_type: str = "overloaded_error",
        message: str | None = None,
        **stream_kwargs: Any,
    ) -> MessageScenario:
        """Start a normal stream, then after ``after_events`` events send ``event: error`` and end the stream.
        A non-streaming request gets the same error as an HTTP error status instead."""
        return dataclasses.replace(
            Scenario.stream(**stream_kwargs),
            fail_after_events=after_events,
            fail_error=(error_type, message or DEFAULT_ERROR_MESSAGES.get(error_type, error_type)),
        )

    @staticmethod
    def disconnect_mid_stream(after_events: int = 3, **stream_kwargs: Any) -> MessageScenario:
        """Start a normal stream (or JSON body), then close the socket abruptly after ``after_events`` events
        (for JSON: after half the body) without ending the chunked body."""
        return dataclasses.replace(Scenario.stream(**stream_kwargs), fail_after_events=after_events)

    @staticmethod
    def error(
        status: int,
        error_type: str | None = None,
        message: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        retry_after: float | None = None,
        delay: float = 0.0,
        route: str = ROUTE_MESSAGES,
    ) -> ErrorScenario:
        """An HTTP error with Anthropic's body. ``error_type`` defaults from the status (PROTOCOL §3); a 429
        gets ``retry-after: 1`` unless ``retry_after`` or ``headers`` say otherwise."""
        error_type = error_type or ERROR_TYPE_BY_STATUS.get(status, "api_error")
        all_headers = Headers()
        if retry_after is not None or status == 429:
            all_headers.set("retry-after", _fmt_number(1 if retry_after is None else retry_after))
        all_headers.update(headers)
        return ErrorScenario(
            delay=delay,
            route=route,
            status=status,
            error_type=error_type,
            message=message or DEFAULT_ERROR_MESSAGES.get(error_type, error_type),
            headers=tuple(all_headers),
        )

    @staticmethod
    def plan_limit(
        reset_epoch: int,
        *,
        claim: str = "five_hour",
        message: str = "This request would exceed your account's rate limit. Please try again later.",
        headers: Mapping[str, str] | None = None,
        route: str = ROUTE_MESSAGES,
    ) -> ErrorScenario:
        """A subscription plan limit: 429 with ``anthropic-ratelimit-unified-status: rejected`` (§3)."""
        window = UNIFIED_WINDOWS.get(claim, claim)
        now = int(time.time())
        plan = Headers(
            {
                "retry-after": str(max(0, int(reset_epoch) - now)),
                "anthropic-ratelimit-unified-status": "rejected",
                "anthropic-ratelimit-unified-reset": str(int(reset_epoch)),
                "anthropic-ratelimit-unified-representative-claim": claim,
                f"anthropic-ratelimit-unified-{window}-status": "rejected",
                f"anthropic-ratelimit-unified-{window}-utilization": "1.0",
                f"anthropic-ratelimit-unified-{window}-reset": str(int(reset_epoch)),
            }
        )
        plan.update(headers)
        return Scenario.error(429, "rate_limit_error", message, headers=dict(plan), route=route)

    @staticmethod
    def raw(
        status: int,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        body: bytes = b"",
        *,
        delay: float = 0.0,
        route: str = ROUTE_MESSAGES,
    ) -> RawScenario:
        """Exactly these status, headers and body bytes (``Content-Length`` added unless framing is given)."""
        return RawScenario(
            delay=delay, route=route, status=status, headers=tuple(Headers(headers)), body=body
        )

    @staticmethod
    def delay_before_headers(seconds: float, then: Scenario | None = None) -> Scenario:
        """Wait ``seconds`` before the status line, then answer as ``then`` (default: the normal message)."""
        return dataclasses.replace(then or Scenario.stream(), delay=seconds)


@dataclass(frozen=True)
class MessageScenario(Scenario):
    text: str | None = None
    thinking: bool | None = None
    tool_uses: tuple[dict[str, Any], ...] = ()
    text_events: int | None = None
    event_delay: float = 0.0
    stop_reason: str | None = None
    usage: dict[str, int] = field(default_factory=dict)
    model: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    full_delta_usage: bool = True
    # Mid-stream failure: after this many events, send fail_error as an SSE error, or (None) disconnect.
    fail_after_events: int | None = None
    fail_error: tuple[str, str] | None = None

    def build(self, request: RecordedRequest, body: Mapping[str, Any]) -> _Message:
        reply = reply_text_for(body) if self.text is None else self.text
        blocks: list[_Block] = []
        wants_thinking = thinking_requested(body) if self.thinking is None else self.thinking
        if wants_thinking:
            blocks.append(_thinking_block(reply))
        if reply:
            blocks.append(_text_block(reply, self.text_events))
        blocks.extend(_tool_use_block(spec) for spec in self.tool_uses)
        # Roughly what the model generated (the signature is not output tokens).
        output_chars = sum(len(b.final.get("thinking") or b.final.get("text") or b"") for b in blocks)
        output_chars += sum(len(_dumps(spec.get("input", {}))) for spec in self.tool_uses)
        usage = {
            "input_tokens": estimate_tokens(len(request.body)),
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": estimate_tokens(output_chars),
            **self.usage,
        }
        return _Message(
            id=new_id("msg_"),
            model=self.model or str(body.get("model") or DEFAULT_MODEL),
            blocks=blocks,
            stop_reason=self.stop_reason or ("tool_use" if self.tool_uses else "end_turn"),
            usage=usage,
            full_delta_usage=self.full_delta_usage,
        )

    def respond(self, exchange: Exchange) -> None:
        body = exchange.body_json
        if not isinstance(body, dict):
            exchange.send_error(400, "invalid_request_error", "The request body is not valid JSON.")
            return
        message = self.build(exchange.request, body)
        if body.get("stream") is True:
            self._send_stream(exchange, message)
        else:
            self._send_json(exchange, message)

    def _send_stream(self, exchange: Exchange, message: _Message) -> None:
        exchange.start_sse(self.headers)
        for sent, (event_type, data) in enumerate(message.events()):
            if sent == self.fail_after_events:
                if self.fail_error is None:
                    exchange.abort()
                    return
                error_type, error_message = self.fail_error
                exchange.send_event("error", error_body(error_type, error_message))
                break
            if sent and not exchange.sleep(self.event_delay):
                exchange.abort()  # the fake is stopping: do not keep a test waiting for the stream
                return
            exchange.send_event(event_type, data)
        exchange.end_sse()

    def _send_json(self, exchange: Exchange, message: _Message) -> None:
        if self.fail_error is not None:
            error_type, error_message = self.fail_error
            exchange.send_error(STATUS_BY_ERROR_TYPE.get(error_type, 500), error_type, error_message)
            return
        payload = _dumps(message.as_json())
        if self.fail_after_events is not None:
            exchange.send_head(200, _json_headers(len(payload), self.headers))
            exchange.write(payload[: len(payload) // 2])
            exchange.abort()
            return
        exchange.send_json(200, message.as_json(), self.headers)


@dataclass(frozen=True)
class ErrorScenario(Scenario):
    status: int = 500
    error_type: str = "api_error"
    message: str = "Internal server error"
    headers: tuple[tuple[str, str], ...] = ()

    def respond(self, exchange: Exchange) -> None:
        exchange.send_error(self.status, self.error_type, self.message, self.headers)


@dataclass(frozen=True)
class RawScenario(Scenario):
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""

    def respond(self, exchange: Exchange) -> None:
        headers = Headers(self.headers)
        if headers.get("content-length") is None and headers.get("transfer-encoding") is None:
            headers.set("Content-Length", len(self.body))
        exchange.send_head(self.status, headers, base_headers=False)
        exchange.write(self.body)


def _fmt_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _json_headers(length: int, extra: Mapping[str, str] | Iterable[tuple[str, str]] | None = None) -> Headers:
    headers = Headers({"Content-Type": "application/json", "Content-Length": str(length)})
    headers.update(extra)
    return headers


# ----------------------------------------------------------------------------------------------------
# One request/answer on the wire
# ----------------------------------------------------------------------------------------------------


class Exchange:
    """Writing side of one request, so scenarios never touch ``BaseHTTPRequestHandler`` internals."""

    def __init__(self, handler: _Handler, request: RecordedRequest, body_json: Any) -> None:
        self._handler = handler
        self.request = request
        self.body_json = body_json
        self.fake: FakeAnthropic = handler.server.fake
        self.request_id = new_id("req_")
        self.headers_sent = False
        self._chunked = False

    def sleep(self, seconds: float) -> bool:
        """Sleep unless the fake is stopping; False means stop answering."""
        if seconds <= 0:
            return not self.fake.stopping
        return not self.fake._stopping.wait(seconds)

    def send_head(
        self,
        status: int,
        headers: Headers | Mapping[str, str] | Iterable[tuple[str, str]] = (),
        *,
        base_headers: bool = True,
    ) -> None:
        all_headers = self.fake.base_headers(self.request_id) if base_headers else Headers()
        all_headers.update(headers)
        handler = self._handler
        handler.send_response(status)
        for name, value in all_headers:
            handler.send_header(name, value)
        handler.end_headers()  # one write: status line and headers leave together
        self.headers_sent = True

    def write(self, data: bytes) -> None:
        if self._handler.command == "HEAD" or not data:
            return
        if self._chunked:
            data = b"%x\r\n%s\r\n" % (len(data), data)
        self._handler.wfile.write(data)  # unbuffered socket writer: one sendall per call
        self._handler.wfile.flush()

    def send_json(
        self, status: int, obj: Any, headers: Mapping[str, str] | Iterable[tuple[str, str]] = ()
    ) -> None:
        payload = _dumps(obj)
        self.send_head(status, _json_headers(len(payload), headers))
        self.write(payload)

    def send_error(
        self,
        status: int,
        error_type: str,
        message: str,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
    ) -> None:
        self.send_json(status, error_body(error_type, message, self.request_id), headers)

    def start_sse(self, headers: Mapping[str, str] | Iterable[tuple[str, str]] = ()) -> None:
        all_headers = Headers(
            {
                "Content-Type": "text/event-stream; charset=utf-8",
                "Cache-Control": "no-cache",
                "Transfer-Encoding": "chunked",
            }
        )
        all_headers.update(headers)
        self.send_head(200, all_headers)
        self._chunked = self._handler.command != "HEAD"

    def send_event(self, event_type: str, data: Mapping[str, Any]) -> None:
        """Each event is its own write and flush, so clients see it as soon as it is produced."""
        self.write(sse_event(event_type, data))

    def end_sse(self) -> None:
        if self._chunked:
            self._chunked = False
            self._handler.wfile.write(b"0\r\n\r\n")
            self._handler.wfile.flush()

    def abort(self) -> None:
        """Close the socket abruptly: no terminating chunk, no more bytes."""
        handler = self._handler
        handler.close_connection = True
        try:
            handler.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        handler.connection.close()


# ----------------------------------------------------------------------------------------------------
# HTTP plumbing
# ----------------------------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive and chunked streams, as the real API over HTTP/1.1
    disable_nagle_algorithm = True  # TCP_NODELAY: one small write per SSE event must not stall 40 ms (§6)
    server_version = "fake-anthropic"
    sys_version = ""
    server: _Server

    def do_POST(self) -> None:
        self._handle()

    def do_GET(self) -> None:
        self._handle()

    def do_HEAD(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_OPTIONS(self) -> None:
        self._handle()

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.fake.verbose:
            super().log_message(format, *args)

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _read_chunked(self) -> bytes:
        parts: list[bytes] = []
        while True:
            size_line = self.rfile.readline(65537)
            size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                break
            parts.append(self.rfile.read(size))
            self.rfile.readline()  # CRLF after the chunk data
        while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
            pass  # trailers: read and drop
        return b"".join(parts)

    def _handle(self) -> None:
        fake = self.server.fake
        request = RecordedRequest(
            method=self.command,
            path=self.path,
            headers=list(self.headers.items()),
            body=self._read_body(),
        )
        fake._record(request)
        try:
            body_json: Any = json.loads(request.body) if request.body else None
        except ValueError:
            body_json = None
        exchange = Exchange(self, request, body_json)
        try:
            fake._answer(exchange)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            request.client_disconnected = True
            self.close_connection = True
        except OSError:
            # The socket was closed under us (abort() or stop()): nothing more can be said.
            self.close_connection = True
        except Exception as exc:  # noqa: BLE001 - a fake must report its own bugs, not hang the client
            self.close_connection = True
            if not exchange.headers_sent:
                exchange.send_error(500, "api_error", f"fake_anthropic bug: {exc!r}")
            raise
        finally:
            request.finished.set()


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a stuck client never keeps the test process alive
    request_queue_size = 256  # a burst of concurrent streams must not overflow the listen backlog
    block_on_close = False  # stop() shuts the sockets itself; do not wait for stream threads
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], fake: FakeAnthropic) -> None:
        self.fake = fake
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # Accepted sockets inherit TCP_NODELAY from the listener on Linux; the handler sets it again anyway.
        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # HTTPServer.server_bind would call socket.getfqdn(), a reverse DNS lookup that can hang offline.
        TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Wake handler threads blocked on keep-alive reads or slow streams."""
        with self._connections_lock:
            connections = list(self._connections)
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return  # clients hanging up are part of the tests, not errors
        super().handle_error(request, client_address)


# ----------------------------------------------------------------------------------------------------
# The fake
# ----------------------------------------------------------------------------------------------------


class FakeAnthropic:
    """The fake API server. ``with FakeAnthropic() as fake: client = Anthropic(base_url=fake.url, …)``.

    ``rate_limit_headers`` picks the headers added to every answer: ``"unified"`` (subscription plan, the
    default), ``"api_key"`` (``anthropic-ratelimit-requests-*`` etc.), ``"both"`` or ``"none"``.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        require_auth: bool = False,
        default: Scenario | None = None,
        rate_limit_headers: str = "unified",
        verbose: bool = False,
        answers_by_credential: Mapping[str, Scenario] | None = None,
        keep_requests: bool = True,
    ) -> None:
        if rate_limit_headers not in ("unified", "api_key", "both", "none"):
            raise ValueError(f"rate_limit_headers: {rate_limit_headers!r}")
        self.host, self.port = host, port
        self.require_auth = require_auth
        self.rate_limit_headers = rate_limit_headers
        self.verbose = verbose
        self.received: list[RecordedRequest] = []
        # Standalone (another process) nobody can read them, and a long benchmark must not grow the fake.
        self.keep_requests = keep_requests
        self._by_credential = dict(answers_by_credential or {})
        self._default = default
        self._queue: list[Scenario] = []
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle ---------------------------------------------------------------------------------------

    def start(self) -> FakeAnthropic:
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = _Server((self.host, self.port), self)
        self.port = self._server.server_port
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-anthropic",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()  # ends per-event and first-byte sleeps at once
        server.shutdown()
        server.close_connections()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> FakeAnthropic:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    # ---- scripting ---------------------------------------------------------------------------------------

    def enqueue(self, *scenarios: Scenario) -> None:
        """Queue one-shot answers (FIFO per route); they take priority over the default."""
        with self._lock:
            self._queue.extend(scenarios)

    def set_default(self, scenario: Scenario | None) -> None:
        """Answer unscripted ``/v1/messages`` requests with ``scenario`` (``None``: the built-in answer)."""
        with self._lock:
            self._default = scenario

    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    # ---- inspection --------------------------------------------------------------------------------------

    def last_request(self) -> RecordedRequest:
        with self._lock:
            if not self.received:
                raise AssertionError("fake Anthropic has received no request")
            return self.received[-1]

    def requests_to(self, route_path: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.received if r.route_path == route_path]

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> list[RecordedRequest]:
        """Block until at least ``count`` requests arrived (e.g. retries made in the background)."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self.received) >= count, timeout):
                raise AssertionError(f"expected {count} requests, got {len(self.received)} after {timeout}s")
            return list(self.received)

    def clear(self) -> None:
        """Forget received requests and queued scenarios (the default answer stays)."""
        with self._lock:
            self.received.clear()
            self._queue.clear()

    # ---- answering (called from handler threads) ---------------------------------------------------------

    def _record(self, request: RecordedRequest) -> None:
        if not self.keep_requests:
            return
        with self._arrived:
            self.received.append(request)
            self._arrived.notify_all()

    def _next_scenario(self, route: str, request: RecordedRequest) -> Scenario | None:
        with self._lock:
            for i, scenario in enumerate(self._queue):
                if scenario.route in (route, ANY_ROUTE):
                    return self._queue.pop(i)
            if route != ROUTE_MESSAGES:
                return None
            if self._by_credential:
                credential = _credential(request)
                for marker, scenario in self._by_credential.items():
                    if marker in credential:
                        return scenario
            return self._default

    def base_headers(self, request_id: str) -> Headers:
        """Headers every real answer carries: request-id and rate-limit state."""
        headers = Headers({"request-id": request_id, "anthropic-organization-id": _FAKE_ORG_ID})
        now = int(time.time())
        if self.rate_limit_headers in ("unified", "both"):
            five_hour_reset, seven_day_reset = now + 3 * 3600, now + 4 * 86400
            headers.update(
                {
                    "anthropic-ratelimit-unified-status": "allowed",
                    "anthropic-ratelimit-unified-reset": str(five_hour_reset),
                    "anthropic-ratelimit-unified-representative-claim": "five_hour",
                    "anthropic-ratelimit-unified-5h-status": "allowed",
                    "anthropic-ratelimit-unified-5h-utilization": "0.12",
                    "anthropic-ratelimit-unified-5h-reset": str(five_hour_reset),
                    "anthropic-ratelimit-unified-7d-status": "allowed",
                    "anthropic-ratelimit-unified-7d-utilization": "0.05",
                    "anthropic-ratelimit-unified-7d-reset": str(seven_day_reset),
                }
            )
        if self.rate_limit_headers in ("api_key", "both"):
            reset = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 60))
            for kind, limit in (
                ("requests", 4000),
                ("tokens", 2_000_000),
                ("input-tokens", 2_000_000),
                ("output-tokens", 400_000),
            ):
                headers.update(
                    {
                        f"anthropic-ratelimit-{kind}-limit": str(limit),
                        f"anthropic-ratelimit-{kind}-remaining": str(limit - 1),
                        f"anthropic-ratelimit-{kind}-reset": reset,
                    }
                )
        return headers

    def _answer(self, exchange: Exchange) -> None:
        request = exchange.request
        route = _route_of(request.method, request.route_path)
        if route is None:
            exchange.send_error(404, "not_found_error", f"Not found: {request.method} {request.route_path}")
            return
        if self.require_auth and not _has_credentials(request):
            exchange.send_error(401, "authentication_error", "x-api-key header is required")
            return
        scenario = self._next_scenario(route, request)
        if scenario is not None:
            if not exchange.sleep(scenario.delay):
                exchange.abort()
                return
            scenario.respond(exchange)
        elif route == ROUTE_MESSAGES:
            _BUILTIN_MESSAGE.respond(exchange)
        elif route == ROUTE_COUNT_TOKENS:
            exchange.send_json(200, {"input_tokens": estimate_tokens(len(request.body))})
        else:
            self._answer_models(exchange, request.route_path)

    def _answer_models(self, exchange: Exchange, path: str) -> None:
        models = [
            {"type": "model", "id": mid, "display_name": name, "created_at": created, "lifecycle": "active"}
            for mid, name, created in MODELS
        ]
        if path.rstrip("/") == "/v1/models":
            exchange.send_json(
                200,
                {"data": models, "has_more": False, "first_id": models[0]["id"], "last_id": models[-1]["id"]},
            )
            return
        wanted = path.rsplit("/", 1)[-1]
        found = next((m for m in models if m["id"] == wanted), None)
        if found is None:
            exchange.send_error(404, "not_found_error", f"model: {wanted}")
        else:
            exchange.send_json(200, found)


_FAKE_ORG_ID = "00000000-0000-4000-8000-00000000fa4e"
_BUILTIN_MESSAGE = MessageScenario()


def _route_of(method: str, path: str) -> str | None:
    path = path.rstrip("/") or "/"
    if method == "POST" and path == "/v1/messages":
        return ROUTE_MESSAGES
    if method == "POST" and path == "/v1/messages/count_tokens":
        return ROUTE_COUNT_TOKENS
    if method == "GET" and (path == "/v1/models" or path.startswith("/v1/models/")):
        return ROUTE_MODELS
    return None


def _has_credentials(request: RecordedRequest) -> bool:
    if (request.header("x-api-key") or "").strip():
        return True
    scheme, _, token = (request.header("authorization") or "").partition(" ")
    return scheme.lower() == "bearer" and bool(token.strip())


def _credential(request: RecordedRequest) -> str:
    """The x-api-key, or the Bearer token (a subscription login), or ""."""
    scheme, _, token = (request.header("authorization") or "").partition(" ")
    return request.header("x-api-key") or (token if scheme.lower() == "bearer" else "")


def _credential_answer(text: str) -> tuple[str, Scenario]:
    """``MARKER=plan-limited`` or ``MARKER=<status>`` (--answer-for-credential)."""
    marker, _, answer = text.partition("=")
    if not marker or not answer:
        raise argparse.ArgumentTypeError(f"expected MARKER=plan-limited or MARKER=<status>, got {text!r}")
    if answer == "plan-limited":
        return marker, Scenario.plan_limit(int(time.time()) + 3600)
    if answer.isdigit():
        return marker, Scenario.error(int(answer))
    raise argparse.ArgumentTypeError(f"unknown answer {answer!r}: plan-limited or an HTTP status")


# ----------------------------------------------------------------------------------------------------
# Standalone use
# ----------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.support.fake_anthropic", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed on start)")
    parser.add_argument("--delay-ms", type=float, default=0.0, help="delay before the response headers")
    parser.add_argument("--event-interval-ms", type=float, default=0.0, help="delay between SSE events")
    parser.add_argument(
        "--text-events", type=int, default=None, help="number of text_delta events per answer"
    )
    parser.add_argument("--text", default=None, help="fixed reply text (default: derived from the request)")
    parser.add_argument("--require-auth", action="store_true", help="401 without x-api-key or Bearer token")
    parser.add_argument(
        "--rate-limit-headers", default="unified", choices=["unified", "api_key", "both", "none"]
    )
    parser.add_argument("--error-status", type=int, default=None,
                        help="answer every Messages request with this error status (e.g. 529)")
    parser.add_argument("--retry-after", type=int, default=None,
                        help="with --error-status 429: the retry-after header's seconds")
    parser.add_argument("--plan-limited", action="store_true",
                        help="answer every Messages request with a plan-limit 429 (reset in an hour)")
    parser.add_argument("--answer-for-credential", type=_credential_answer, action="append", default=[],
                        metavar="MARKER=ANSWER",
                        help="a request whose x-api-key (or Bearer token) contains MARKER gets ANSWER every time: "
                             "plan-limited (429, reset in an hour) or an HTTP status (e.g. 529); repeatable")
    parser.add_argument("--verbose", action="store_true", help="log each request to stderr")
    args = parser.parse_args(argv)

    if args.plan_limited:
        default = Scenario.plan_limit(int(time.time()) + 3600)
    elif args.error_status:
        default = Scenario.error(args.error_status, delay=args.delay_ms / 1000, retry_after=args.retry_after)
    else:
        default = Scenario.stream(
            text=args.text,
            text_events=args.text_events,
            event_delay=args.event_interval_ms / 1000,
            delay=args.delay_ms / 1000,
        )
    fake = FakeAnthropic(
        args.host,
        args.port,
        require_auth=args.require_auth,
        default=default,
        rate_limit_headers=args.rate_limit_headers,
        verbose=args.verbose,
        answers_by_credential=dict(args.answer_for_credential),
        keep_requests=False,
    )
    fake.start()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    # Parents (benchmarks, `overspill dev`) read this line to learn the port.
    print(f"fake-anthropic listening on {fake.url}", flush=True)
    try:
        done.wait()
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
