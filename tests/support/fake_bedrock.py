"""A fake Amazon Bedrock Runtime: a real HTTP/1.1 server on loopback that the real boto3/botocore
``bedrock-runtime`` client talks to through ``endpoint_url``.

Tests point the gateway's Bedrock transport at it; benchmarks run it standalone::

    python -m tests.support.fake_bedrock --port 8098 --delay-ms 200 --event-interval-ms 20 --text-events 100

Wire facts (PROTOCOL §4, checked against botocore 1.44's ``bedrock-runtime`` model and parsers):

- Paths are botocore's ``requestUri`` with the model id percent-encoded (``:`` -> ``%3A``, ``/`` -> ``%2F``):
  ``POST /model/{modelId}/invoke`` (InvokeModel), ``POST /model/{modelId}/invoke-with-response-stream``
  (InvokeModelWithResponseStream), ``POST /model/{modelId}/count-tokens`` (CountTokens). Anything else is a
  404 ``UnknownOperationException``.
- InvokeModel answers the Anthropic Messages JSON plus ``x-amzn-bedrock-{input,output}-token-count`` headers;
  the streaming operation answers ``application/vnd.amazon.eventstream``: one ``chunk`` frame per Anthropic
  streaming event, payload ``{"bytes": base64(<event JSON>), "p": <padding>}``, written and flushed one by
  one; ``message_stop`` also carries ``amazon-bedrock-invocationMetrics``.
- CountTokens: botocore serialises ``input.invokeModel.body`` (a blob) as base64 in the JSON request; the
  answer is ``{"inputTokens": N}``.
- Errors are what botocore's rest-json parser reads: header ``x-amzn-ErrorType: <Code>:<namespace>``
  (botocore keeps the part before ``:``) and body ``{"message": …}``; in-stream failures are event-stream
  ``exception`` frames (``:exception-type: throttlingException`` …) that boto3 raises as ``EventStreamError``.
- Every request is recorded (method, raw path, URL-decoded model id, headers in order, raw body bytes, the
  credential used) before it is answered. One-shot :class:`Scenario` objects queued with
  :meth:`FakeBedrock.enqueue` script the next answers; :meth:`FakeBedrock.set_default` replaces the default.

Bearer tokens (Bedrock API keys): botocore's ``BearerAuth`` refuses plain-http endpoints, so
``FakeBedrock(tls=True)`` serves HTTPS with a throwaway self-signed certificate (``fake.ca_bundle`` is the
path to pass as ``verify=``); see :func:`bearer_token_client`.

Standard library only, except ``cryptography`` for ``tls=True`` (orjson is used when importable).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import dataclasses
import datetime
import ipaddress
import json
import os
import re
import secrets
import signal
import socket
import ssl
import string
import struct
import sys
import tempfile
import threading
import time
import uuid
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from typing import Any
from urllib.parse import unquote

# The Anthropic events inside Bedrock's frames are built exactly as the fake Anthropic builds them.
from tests.support.fake_anthropic import (  # noqa: E402
    Headers,
    _Block,
    _dumps,
    _text_block,
    _thinking_block,
    estimate_tokens,
    thinking_requested,
)
from tests.support.fake_anthropic import _tool_use_block as anthropic_tool_use_block  # noqa: E402
from tests.support.fake_anthropic import reply_text_for as anthropic_reply_text_for  # noqa: E402

# ----------------------------------------------------------------------------------------------------
# Wire constants (PROTOCOL §4)
# ----------------------------------------------------------------------------------------------------

DEFAULT_REPLY = "Hello from fake Bedrock"
DEFAULT_MODEL = "claude-sonnet-4-5-20250929"
ANTHROPIC_VERSION = "bedrock-2023-05-31"
EVENTSTREAM_CONTENT_TYPE = "application/vnd.amazon.eventstream"

OP_INVOKE = "invoke"
OP_STREAM = "invoke-with-response-stream"
OP_COUNT_TOKENS = "count-tokens"
OPERATIONS = (OP_INVOKE, OP_STREAM, OP_COUNT_TOKENS)

# Which operation consumes a scenario: both invoke operations share one queue (a scenario answers either,
# in the encoding the operation asks for), CountTokens has its own; "*" is whatever comes next.
ROUTE_INVOKE = "invoke"
ROUTE_COUNT_TOKENS = "count-tokens"
ANY_ROUTE = "*"

_BEDROCK_NS = "http://internal.amazon.com/coral/com.amazon.bedrock/"
_CORAL_NS = "http://internal.amazon.com/coral/com.amazon.coral.service/"

# Code -> (HTTP status, default message). Statuses are the bedrock-runtime model's httpStatusCode traits;
# the auth errors are the generic AWS front-door ones.
ERRORS: dict[str, tuple[int, str]] = {
    "ValidationException": (400, "Malformed input request, please reformat your input and try again."),
    "AccessDeniedException": (403, "You don't have access to the model with the specified model ID."),
    "ResourceNotFoundException": (404, "The requested resource could not be found."),
    "ModelTimeoutException": (408, "Model has timed out in processing the request. Try your request again."),
    "ModelErrorException": (424, "The model returned an error."),
    "ModelStreamErrorException": (424, "The model stream returned an error."),
    "ThrottlingException": (429, "Too many requests, please wait before trying again."),
    "ModelNotReadyException": (429, "Model is not ready to serve inference requests."),
    "ServiceQuotaExceededException": (400, "Your request exceeds the service quota for your account."),
    "InternalServerException": (500, "The system encountered an unexpected error during processing."),
    "ServiceUnavailableException": (503, "Bedrock is unable to process your request."),
    "UnrecognizedClientException": (403, "The security token included in the request is invalid."),
    "ExpiredTokenException": (403, "The security token included in the request is expired"),
    "MissingAuthenticationTokenException": (403, "Missing Authentication Token"),
    "InvalidSignatureException": (
        403,
        "The request signature we calculated does not match the signature you provided. "
        "Check your AWS Secret Access Key and signing method.",
    ),
    "UnknownOperationException": (404, "Unknown operation"),
}
_AUTH_ERRORS = {
    "UnrecognizedClientException",
    "ExpiredTokenException",
    "MissingAuthenticationTokenException",
    "InvalidSignatureException",
}

# The in-stream exceptions of InvokeModelWithResponseStream (event-stream ``:exception-type`` names).
STREAM_EXCEPTIONS = (
    "throttlingException",
    "modelStreamErrorException",
    "serviceUnavailableException",
    "validationException",
    "internalServerException",
    "modelTimeoutException",
)

# Inference-profile prefixes; CountTokens only takes bare foundation-model ids.
INFERENCE_PROFILE_PREFIXES = ("us.", "eu.", "apac.", "jp.", "au.", "ca.", "global.", "us-gov.")
COUNT_TOKENS_PROFILE_MESSAGE = "The provided model doesn't support counting tokens."

_BASE62 = string.digits + string.ascii_letters
_PATH = re.compile(r"^/model/(?P<model>[^/]+)/(?P<op>invoke|invoke-with-response-stream|count-tokens)/?$")


def new_message_id() -> str:
    """An id shaped like Bedrock's Anthropic message ids (``msg_bdrk_01…``)."""
    return "msg_bdrk_01" + "".join(secrets.choice(_BASE62) for _ in range(22))


def exception_code(code: str) -> str:
    """``"Throttling"``/``"throttlingException"`` -> ``"ThrottlingException"``."""
    code = code[:1].upper() + code[1:]
    return code if code.endswith("Exception") else code + "Exception"


def stream_exception_type(name: str) -> str:
    """``"ThrottlingException"``/``"throttling"`` -> ``"throttlingException"`` (the event-stream spelling)."""
    code = exception_code(name)
    return code[:1].lower() + code[1:]


def is_inference_profile(model_id: str) -> bool:
    return model_id.startswith(INFERENCE_PROFILE_PREFIXES) or "inference-profile/" in model_id


def model_name_for(model_id: str) -> str:
    """The ``model`` Bedrock reports for a model id: ``us.anthropic.claude-sonnet-4-5-20250929-v1:0`` ->
    ``claude-sonnet-4-5-20250929``; ids that are not recognisably Anthropic's get :data:`DEFAULT_MODEL`."""
    name = model_id.rsplit("/", 1)[-1]
    if "anthropic." not in name:
        return DEFAULT_MODEL
    name = name.split("anthropic.", 1)[1]
    return re.sub(r"-v\d+(?::\d+)?$", "", name) or DEFAULT_MODEL


# ----------------------------------------------------------------------------------------------------
# Event-stream encoding (PROTOCOL §4): botocore decodes, nothing public encodes
# ----------------------------------------------------------------------------------------------------


def encode_event_stream_message(headers: Iterable[tuple[str, str]], payload: bytes) -> bytes:
    """One frame: ``[total u32][headers_len u32][crc32(prelude) u32][headers][payload][crc32(all) u32]``,
    big-endian; every header is a string (type 7): ``u8 name_len, name, 0x07, u16 value_len, value``."""
    encoded = bytearray()
    for name, value in headers:
        raw_name, raw_value = name.encode(), value.encode()
        encoded += struct.pack(">B", len(raw_name)) + raw_name + b"\x07"
        encoded += struct.pack(">H", len(raw_value)) + raw_value
    prelude = struct.pack(">II", 12 + len(encoded) + len(payload) + 4, len(encoded))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + bytes(encoded) + payload
    return message + struct.pack(">I", zlib.crc32(message))


def chunk_frame(event: Mapping[str, Any], *, padding: bool = True) -> bytes:
    """A ``chunk`` event carrying one Anthropic streaming event. Like the real service, the payload has a
    ``p`` field of random padding next to ``bytes`` (clients must ignore it)."""
    payload: dict[str, Any] = {"bytes": base64.b64encode(_dumps(event)).decode()}
    if padding:
        payload["p"] = "".join(secrets.choice(_BASE62) for _ in range(secrets.randbelow(24) + 1))
    return encode_event_stream_message(
        [(":event-type", "chunk"), (":content-type", "application/json"), (":message-type", "event")],
        _dumps(payload),
    )


def exception_frame(exception_type: str, message: str, **fields: Any) -> bytes:
    """An in-stream exception (``throttlingException``, ``modelStreamErrorException``, …)."""
    return encode_event_stream_message(
        [
            (":exception-type", stream_exception_type(exception_type)),
            (":content-type", "application/json"),
            (":message-type", "exception"),
        ],
        _dumps({"message": message, **fields}),
    )


def decode_event_stream(data: bytes) -> list[tuple[dict[str, str], bytes]]:
    """Split raw event-stream bytes into ``(headers, payload)`` frames, checking both CRCs (for tests that
    read the wire without botocore)."""
    frames, offset = [], 0
    while offset < len(data):
        total, headers_len, prelude_crc = struct.unpack_from(">III", data, offset)
        if zlib.crc32(data[offset : offset + 8]) != prelude_crc:
            raise ValueError("bad prelude CRC")
        end = offset + total
        if zlib.crc32(data[offset : end - 4]) != struct.unpack_from(">I", data, end - 4)[0]:
            raise ValueError("bad message CRC")
        headers, pos = {}, offset + 12
        while pos < offset + 12 + headers_len:
            name_len = data[pos]
            name = data[pos + 1 : pos + 1 + name_len].decode()
            pos += 1 + name_len
            if data[pos] != 7:
                raise ValueError(f"unsupported header type {data[pos]}")
            (value_len,) = struct.unpack_from(">H", data, pos + 1)
            headers[name] = data[pos + 3 : pos + 3 + value_len].decode()
            pos += 3 + value_len
        frames.append((headers, data[offset + 12 + headers_len : end - 4]))
        offset = end
    return frames




# ----------------------------------------------------------------------------------------------------
# What was received
# ----------------------------------------------------------------------------------------------------


@dataclass
class RecordedRequest:
    """One request as it arrived. ``body`` is the payload bytes exactly as sent (chunked framing removed)."""

    method: str
    path: str  # raw, as on the wire: model id percent-encoded, with any query string
    headers: list[tuple[str, str]]  # in arrival order, original case
    body: bytes
    received_at: float = field(default_factory=time.time)
    model_id: str | None = None  # URL-decoded: "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
    operation: str | None = None  # "invoke" | "invoke-with-response-stream" | "count-tokens" | None
    auth_scheme: str | None = None  # "sigv4" | "bearer" | None
    credential: str | None = None  # the SigV4 access key id or the bearer token
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
        """The raw path without its query string."""
        return self.path.split("?", 1)[0]

    @property
    def decoded_path(self) -> str:
        """The path with percent-escapes decoded (``/model/us.anthropic.…-v1:0/invoke``)."""
        return unquote(self.route_path)

    def json(self) -> Any:
        return json.loads(self.body)

    def invoke_body(self) -> bytes:
        """The InvokeModel body: the request body itself, or for CountTokens the base64-decoded
        ``input.invokeModel.body`` (b"" when the request counts a Converse payload)."""
        if self.operation != OP_COUNT_TOKENS:
            return self.body
        return _count_tokens_inner_body(self.json()) or b""


def _count_tokens_inner_body(body: Any) -> bytes | None:
    """botocore sends the blob ``input.invokeModel.body`` base64-encoded; accept a raw JSON string too."""
    try:
        inner = body["input"]["invokeModel"]["body"]
    except (KeyError, TypeError):
        return None
    if not isinstance(inner, str):
        return None
    try:
        return base64.b64decode(inner, validate=True)
    except (binascii.Error, ValueError):
        return inner.encode()


def parse_authorization(value: str | None) -> tuple[str | None, str | None]:
    """``(scheme, credential)``: ``("sigv4", access key id)``, ``("bearer", token)`` or ``(None, None)``."""
    scheme, _, rest = (value or "").strip().partition(" ")
    if scheme == "AWS4-HMAC-SHA256":
        found = re.search(r"Credential=([^/,\s]+)/", rest)
        return "sigv4", found.group(1) if found else None
    if scheme.lower() == "bearer" and rest.strip():
        return "bearer", rest.strip()
    return None, None


# ----------------------------------------------------------------------------------------------------
# Deriving an answer from a request
# ----------------------------------------------------------------------------------------------------





def reply_text_for(body: Mapping[str, Any]) -> str:
    """X when the latest user message mentioning ``reply with: X`` exists, else :data:`DEFAULT_REPLY`."""
    return anthropic_reply_text_for(body, default=DEFAULT_REPLY)








def _has_path(body: Any, dotted: str) -> bool:
    for part in dotted.split("."):
        if not isinstance(body, dict) or part not in body:
            return False
        body = body[part]
    return True


def _validate_invoke_body(body: Any) -> str | None:
    """What the real service says about a body that is not an Anthropic-on-Bedrock body (None: fine)."""
    if not isinstance(body, dict):
        return "Malformed input request: expected a JSON object, please reformat your input and try again."
    if "anthropic_version" not in body:
        return (
            "Malformed input request: #: required key [anthropic_version] not found, "
            "please reformat your input and try again."
        )
    for key in ("model", "stream"):
        if key in body:
            return f"{key}: Extra inputs are not permitted"
    betas = body.get("anthropic_beta")
    if betas is not None and not (isinstance(betas, list) and all(isinstance(b, str) for b in betas)):
        return "anthropic_beta: Input should be a valid list"
    return None


# ----------------------------------------------------------------------------------------------------
# A message to send: blocks, usage, and its two encodings (event frames / one JSON document)
# ----------------------------------------------------------------------------------------------------




@dataclass
class _Message:
    id: str
    model: str
    blocks: list[_Block]
    stop_reason: str
    usage: dict[str, int]  # input, cache creation/read, output

    def _usage(self, output_tokens: int) -> dict[str, Any]:
        return {
            "input_tokens": self.usage["input_tokens"],
            "cache_creation_input_tokens": self.usage["cache_creation_input_tokens"],
            "cache_read_input_tokens": self.usage["cache_read_input_tokens"],
            "output_tokens": output_tokens,
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

    def metrics(self, invocation_latency_ms: int, first_byte_latency_ms: int) -> dict[str, int]:
        return {
            "inputTokenCount": self.usage["input_tokens"],
            "outputTokenCount": self.usage["output_tokens"],
            "invocationLatency": invocation_latency_ms,
            "firstByteLatency": first_byte_latency_ms,
            "cacheReadInputTokenCount": self.usage["cache_read_input_tokens"],
            "cacheWriteInputTokenCount": self.usage["cache_creation_input_tokens"],
        }

    def events(self) -> Iterator[dict[str, Any]]:
        """The Anthropic streaming events, without ``message_stop`` (the sender adds the metrics to it)."""
        start = {**self.as_json(), "content": [], "stop_reason": None, "usage": self._usage(1)}
        yield {"type": "message_start", "message": start}
        for index, block in enumerate(self.blocks):
            yield {"type": "content_block_start", "index": index, "content_block": block.start}
            for delta in block.deltas:
                yield {"type": "content_block_delta", "index": index, "delta": delta}
            yield {"type": "content_block_stop", "index": index}
        yield {
            "type": "message_delta",
            "delta": {"stop_reason": self.stop_reason, "stop_sequence": None},
            "usage": {"output_tokens": self.usage["output_tokens"]},
        }






def _tool_use_block(spec: Mapping[str, Any]) -> _Block:
    return anthropic_tool_use_block(spec, id_prefix="toolu_bdrk_")


# ----------------------------------------------------------------------------------------------------
# Scenarios: how to answer one request
# ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    """How to answer one request. Built by the static methods below; queued with ``FakeBedrock.enqueue``.

    ``route`` says which operation consumes it: ``"invoke"`` (InvokeModel and InvokeModelWithResponseStream,
    the default), ``"count-tokens"`` or ``"*"``. ``delay`` is slept before the status line and headers.
    """

    delay: float = 0.0
    route: str = ROUTE_INVOKE

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
    ) -> MessageScenario:
        """A successful message: event frames for InvokeModelWithResponseStream, JSON for InvokeModel.

        ``text=None`` derives the reply from the request; ``""`` sends no text block. ``thinking=None``
        follows the request's ``thinking.type``. ``tool_use={"name", "input", ["id"]}`` (or a list) adds
        tool_use blocks and makes stop_reason ``tool_use``. ``usage`` overrides ``input_tokens``,
        ``output_tokens``, ``cache_read_input_tokens``, ``cache_creation_input_tokens``. ``model`` overrides
        the reported model name (default: derived from the model id). ``event_delay`` is slept between frames.
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
        )

    message = stream  # the same answer; the operation decides the encoding

    @staticmethod
    def error(
        code: str,
        message: str | None = None,
        status: int | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        delay: float = 0.0,
        route: str = ROUTE_INVOKE,
    ) -> ErrorScenario:
        """An HTTP error as the service sends it: ``x-amzn-ErrorType: <Code>:<namespace>``, body
        ``{"message": …}``. ``code`` is e.g. ``"ThrottlingException"`` (``"Throttling"`` works too); the
        status and message default from :data:`ERRORS`."""
        code = exception_code(code)
        default_status, default_message = ERRORS.get(code, (400, code))
        return ErrorScenario(
            delay=delay,
            route=route,
            code=code,
            message=default_message if message is None else message,
            status=default_status if status is None else status,
            headers=tuple(Headers(headers)),
        )

    @staticmethod
    def reject_beta(
        beta_name: str, *, message: str | None = None, then: Scenario | None = None
    ) -> ConditionalRejectScenario:
        """A 400 ValidationException ``invalid beta flag: <name>`` if the body's ``anthropic_beta`` holds
        ``beta_name``; any other request is answered by ``then`` (default: the normal message). As a default
        (:meth:`FakeBedrock.set_default`) it rejects every request carrying the beta."""
        return ConditionalRejectScenario(
            route=ROUTE_INVOKE,
            beta=beta_name,
            message=message or f"invalid beta flag: {beta_name}",
            then=then,
        )

    @staticmethod
    def reject_field(
        field_name: str, *, message: str | None = None, then: Scenario | None = None
    ) -> ConditionalRejectScenario:
        """A 400 ValidationException ``<field>: Extra inputs are not permitted`` if the body has that field
        (a dotted path such as ``output_config.effort`` looks inside objects); otherwise ``then``."""
        return ConditionalRejectScenario(
            route=ROUTE_INVOKE,
            field_path=field_name,
            message=message or f"{field_name}: Extra inputs are not permitted",
            then=then,
        )

    @staticmethod
    def exception_mid_stream(
        after_events: int = 3,
        exception_type: str = "throttlingException",
        message: str | None = None,
        **stream_kwargs: Any,
    ) -> MessageScenario:
        """Start a normal stream, then after ``after_events`` chunk frames send an exception frame and end
        the response. InvokeModel gets the same exception as an HTTP error instead."""
        exception_type = stream_exception_type(exception_type)
        code = exception_code(exception_type)
        return dataclasses.replace(
            Scenario.stream(**stream_kwargs),
            fail_after_events=after_events,
            fail_exception=(exception_type, message or ERRORS.get(code, (500, code))[1]),
        )

    @staticmethod
    def disconnect_mid_stream(after_events: int = 3, **stream_kwargs: Any) -> MessageScenario:
        """Start a normal stream (or JSON body), then close the socket after ``after_events`` frames (for
        JSON: after half the body) without ending the chunked body."""
        return dataclasses.replace(Scenario.stream(**stream_kwargs), fail_after_events=after_events)

    @staticmethod
    def delay_before_headers(seconds: float, then: Scenario | None = None) -> Scenario:
        """Wait ``seconds`` before the status line, then answer as ``then`` (default: the normal message)."""
        return dataclasses.replace(then or Scenario.stream(), delay=seconds)

    @staticmethod
    def count_tokens(
        input_tokens: int | None = None, *, reject_inference_profiles: bool = True, delay: float = 0.0
    ) -> CountTokensScenario:
        """A CountTokens answer (``input_tokens=None``: derived from the body size). With
        ``reject_inference_profiles`` (the real service's behaviour) an inference-profile id (``us.…``,
        ``global.…``, an inference-profile ARN) gets ValidationException
        "The provided model doesn't support counting tokens."."""
        return CountTokensScenario(
            delay=delay,
            route=ROUTE_COUNT_TOKENS,
            input_tokens=input_tokens,
            reject_inference_profiles=reject_inference_profiles,
        )

    @staticmethod
    def raw(
        status: int,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
        body: bytes = b"",
        *,
        delay: float = 0.0,
        route: str = ROUTE_INVOKE,
    ) -> RawScenario:
        """Exactly these status, headers and body bytes (``Content-Length`` added unless framing is given)."""
        return RawScenario(delay=delay, route=route, status=status, headers=tuple(Headers(headers)), body=body)


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
    # Mid-stream failure: after this many frames, send fail_exception as an exception frame, or disconnect.
    fail_after_events: int | None = None
    fail_exception: tuple[str, str] | None = None

    def build(self, request: RecordedRequest, body: Mapping[str, Any]) -> _Message:
        reply = reply_text_for(body) if self.text is None else self.text
        blocks: list[_Block] = []
        if thinking_requested(body) if self.thinking is None else self.thinking:
            blocks.append(_thinking_block(reply))
        if reply:
            blocks.append(_text_block(reply, self.text_events))
        blocks.extend(_tool_use_block(spec) for spec in self.tool_uses)
        output_chars = sum(len(b.final.get("thinking") or b.final.get("text") or "") for b in blocks)
        output_chars += sum(len(_dumps(spec.get("input", {}))) for spec in self.tool_uses)
        usage = {
            "input_tokens": estimate_tokens(len(request.body)),
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": estimate_tokens(output_chars),
            **self.usage,
        }
        return _Message(
            id=new_message_id(),
            model=self.model or model_name_for(request.model_id or ""),
            blocks=blocks,
            stop_reason=self.stop_reason or ("tool_use" if self.tool_uses else "end_turn"),
            usage=usage,
        )

    def respond(self, exchange: Exchange) -> None:
        if not isinstance(exchange.body_json, dict):
            exchange.send_error("ValidationException", "Malformed input request, please reformat your input.")
            return
        message = self.build(exchange.request, exchange.body_json)
        if exchange.request.operation == OP_STREAM:
            self._send_stream(exchange, message)
        else:
            self._send_json(exchange, message)

    def _send_stream(self, exchange: Exchange, message: _Message) -> None:
        exchange.start_stream(self.headers)
        first_byte_ms: int | None = None
        events = list(message.events())
        events.append({"type": "message_stop"})
        for sent, event in enumerate(events):
            if sent == self.fail_after_events:
                if self.fail_exception is None:
                    exchange.abort()
                    return
                exchange.write(exception_frame(*self.fail_exception))
                break
            if sent and not exchange.sleep(self.event_delay):
                exchange.abort()  # the fake is stopping: do not keep a test waiting for the stream
                return
            if first_byte_ms is None:
                first_byte_ms = exchange.elapsed_ms()
            if event["type"] == "message_stop":
                event = {
                    **event,
                    "amazon-bedrock-invocationMetrics": message.metrics(exchange.elapsed_ms(), first_byte_ms),
                }
            exchange.write(chunk_frame(event))
        exchange.end_stream()

    def _send_json(self, exchange: Exchange, message: _Message) -> None:
        if self.fail_exception is not None:
            exchange.send_error(exception_code(self.fail_exception[0]), self.fail_exception[1])
            return
        payload = _dumps(message.as_json())
        headers = Headers(
            {
                "Content-Type": "application/json",
                "Content-Length": str(len(payload)),
                "X-Amzn-Bedrock-Invocation-Latency": str(exchange.elapsed_ms()),
                "X-Amzn-Bedrock-Input-Token-Count": str(message.usage["input_tokens"]),
                "X-Amzn-Bedrock-Output-Token-Count": str(message.usage["output_tokens"]),
                "X-Amzn-Bedrock-Cache-Read-Input-Token-Count": str(message.usage["cache_read_input_tokens"]),
                "X-Amzn-Bedrock-Cache-Write-Input-Token-Count": str(message.usage["cache_creation_input_tokens"]),
            }
        )
        headers.update(self.headers)
        exchange.send_head(200, headers)
        if self.fail_after_events is not None:
            exchange.write(payload[: len(payload) // 2])
            exchange.abort()
            return
        exchange.write(payload)


@dataclass(frozen=True)
class ErrorScenario(Scenario):
    code: str = "InternalServerException"
    message: str = ""
    status: int = 500
    headers: tuple[tuple[str, str], ...] = ()

    def respond(self, exchange: Exchange) -> None:
        exchange.send_error(self.code, self.message, self.status, self.headers)


@dataclass(frozen=True)
class ConditionalRejectScenario(Scenario):
    beta: str | None = None
    field_path: str | None = None
    message: str = ""
    then: Scenario | None = None

    def matches(self, body: Any) -> bool:
        if self.beta is not None:
            betas = body.get("anthropic_beta") if isinstance(body, dict) else None
            return isinstance(betas, list) and self.beta in betas
        return self.field_path is not None and _has_path(body, self.field_path)

    def respond(self, exchange: Exchange) -> None:
        if self.matches(exchange.body_json):
            exchange.send_error("ValidationException", self.message)
            return
        then = self.then or _BUILTIN_MESSAGE
        if not exchange.sleep(then.delay):
            exchange.abort()
            return
        then.respond(exchange)


@dataclass(frozen=True)
class CountTokensScenario(Scenario):
    input_tokens: int | None = None
    reject_inference_profiles: bool = False

    def respond(self, exchange: Exchange) -> None:
        request = exchange.request
        if self.reject_inference_profiles and is_inference_profile(request.model_id or ""):
            exchange.send_error("ValidationException", COUNT_TOKENS_PROFILE_MESSAGE)
            return
        body = exchange.body_json
        if not isinstance(body, dict) or not isinstance(body.get("input"), dict):
            exchange.send_error("ValidationException", "1 validation error detected: Value null at 'input'")
            return
        inner = _count_tokens_inner_body(body)
        if inner is not None:
            try:
                inner_json = json.loads(inner)
            except ValueError:
                inner_json = None
            problem = _validate_invoke_body(inner_json) if exchange.fake.validate_body else None
            if problem:
                exchange.send_error("ValidationException", problem)
                return
        size = len(inner) if inner is not None else len(request.body)
        tokens = estimate_tokens(size) if self.input_tokens is None else self.input_tokens
        exchange.send_json(200, {"inputTokens": tokens})


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


_BUILTIN_MESSAGE = MessageScenario()
_BUILTIN_COUNT_TOKENS = CountTokensScenario(route=ROUTE_COUNT_TOKENS)


# ----------------------------------------------------------------------------------------------------
# One request/answer on the wire
# ----------------------------------------------------------------------------------------------------


class Exchange:
    """Writing side of one request, so scenarios never touch ``BaseHTTPRequestHandler`` internals."""

    def __init__(self, handler: _Handler, request: RecordedRequest, body_json: Any) -> None:
        self._handler = handler
        self.request = request
        self.body_json = body_json
        self.fake: FakeBedrock = handler.server.fake
        self.request_id = str(uuid.uuid4())
        self.headers_sent = False
        self._chunked = False
        self._started = time.monotonic()

    def elapsed_ms(self) -> int:
        return int((time.monotonic() - self._started) * 1000)

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
        all_headers = Headers({"x-amzn-RequestId": self.request_id} if base_headers else None)
        all_headers.update(headers)
        handler = self._handler
        handler.send_response(status)
        for name, value in all_headers:
            handler.send_header(name, value)
        handler.end_headers()  # one write: status line and headers leave together
        self.headers_sent = True

    def write(self, data: bytes) -> None:
        """One write and flush per call (one event-stream frame per HTTP chunk while streaming)."""
        if self._handler.command == "HEAD" or not data:
            return
        if self._chunked:
            data = b"%x\r\n%s\r\n" % (len(data), data)
        self._handler.wfile.write(data)
        self._handler.wfile.flush()

    def send_json(self, status: int, obj: Any, headers: Mapping[str, str] | Iterable[tuple[str, str]] = ()) -> None:
        payload = _dumps(obj)
        all_headers = Headers({"Content-Type": "application/json", "Content-Length": str(len(payload))})
        all_headers.update(headers)
        self.send_head(status, all_headers)
        self.write(payload)

    def send_error(
        self,
        code: str,
        message: str | None = None,
        status: int | None = None,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
    ) -> None:
        """The service's error shape: ``x-amzn-ErrorType: <Code>:<namespace>`` + ``{"message": …}``."""
        code = exception_code(code)
        default_status, default_message = ERRORS.get(code, (400, code))
        namespace = _CORAL_NS if code in _AUTH_ERRORS else _BEDROCK_NS
        all_headers = Headers({"x-amzn-ErrorType": f"{code}:{namespace}"})
        all_headers.update(headers)
        self.send_json(
            default_status if status is None else status,
            {"message": default_message if message is None else message},
            all_headers,
        )

    def start_stream(self, headers: Mapping[str, str] | Iterable[tuple[str, str]] = ()) -> None:
        all_headers = Headers(
            {
                "Content-Type": EVENTSTREAM_CONTENT_TYPE,
                "X-Amzn-Bedrock-Content-Type": "application/json",
                "Transfer-Encoding": "chunked",
            }
        )
        all_headers.update(headers)
        self.send_head(200, all_headers)
        self._chunked = self._handler.command != "HEAD"

    def end_stream(self) -> None:
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
    protocol_version = "HTTP/1.1"  # keep-alive and chunked streams, as the real service over HTTP/1.1
    disable_nagle_algorithm = True  # TCP_NODELAY: one small write per frame must not stall 40 ms (§6)
    server_version = "fake-bedrock"
    sys_version = ""
    server: _Server

    def setup(self) -> None:
        super().setup()
        if isinstance(self.connection, ssl.SSLSocket):
            # The handshake runs here, in the handler thread, not in the accept loop.
            self.connection.settimeout(10)
            self.connection.do_handshake()
            self.connection.settimeout(None)

    def do_POST(self) -> None:
        self._handle()

    def do_GET(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.fake.verbose:
            super().log_message(format, *args)

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            parts: list[bytes] = []
            while True:
                size = int(self.rfile.readline(65537).split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    break
                parts.append(self.rfile.read(size))
                self.rfile.readline()  # CRLF after the chunk data
            while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                pass  # trailers: read and drop
            return b"".join(parts)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _handle(self) -> None:
        fake = self.server.fake
        request = RecordedRequest(
            method=self.command,
            path=self.path,
            headers=list(self.headers.items()),
            body=self._read_body(),
        )
        matched = _PATH.match(request.route_path)
        if matched:
            request.model_id = unquote(matched.group("model"))
            request.operation = matched.group("op")
        request.auth_scheme, request.credential = parse_authorization(request.header("authorization"))
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
            self.close_connection = True  # the socket was closed under us (abort() or stop())
        except Exception as exc:  # noqa: BLE001 - a fake must report its own bugs, not hang the client
            self.close_connection = True
            if not exchange.headers_sent:
                exchange.send_error("InternalServerException", f"fake_bedrock bug: {exc!r}")
            raise
        finally:
            request.finished.set()


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a stuck client never keeps the test process alive
    request_queue_size = 256  # a burst of concurrent streams must not overflow the listen backlog
    block_on_close = False  # stop() shuts the sockets itself; do not wait for stream threads
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], fake: FakeBedrock, ssl_context: ssl.SSLContext | None) -> None:
        self.fake = fake
        self._ssl_context = ssl_context
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # HTTPServer.server_bind would call socket.getfqdn(), a reverse DNS lookup that can hang offline.
        TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def get_request(self) -> tuple[socket.socket, Any]:
        conn, address = super().get_request()
        if self._ssl_context is not None:
            conn = self._ssl_context.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
        return conn, address

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
            except (OSError, ValueError):
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError, ssl.SSLError)):
            return  # clients hanging up are part of the tests, not errors
        super().handle_error(request, client_address)


def _self_signed_certificate(directory: str) -> tuple[str, str]:
    """A throwaway certificate for 127.0.0.1/localhost: (cert path, key path)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake-bedrock")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    return cert_path, key_path


# ----------------------------------------------------------------------------------------------------
# The fake
# ----------------------------------------------------------------------------------------------------


class FakeBedrock:
    """The fake Bedrock Runtime. ``with FakeBedrock() as fake: boto3.client("bedrock-runtime",
    endpoint_url=fake.url, …)``.

    ``require_auth``: requests must carry SigV4 (``Authorization: AWS4-HMAC-SHA256 Credential=<AKID>/…``)
    or ``Authorization: Bearer <token>`` (403 MissingAuthenticationTokenException otherwise).
    ``valid_access_keys`` / ``valid_bearer_tokens`` (implying ``require_auth``) list the accepted access key
    ids / API keys (403 UnrecognizedClientException for others; ``None``: any). ``expired_access_keys`` get
    403 ExpiredTokenException. ``validate_body`` rejects InvokeModel bodies that are not Anthropic-on-Bedrock
    bodies (no ``anthropic_version``; a ``model`` or ``stream`` field) as the service does.
    ``tls=True`` serves HTTPS with a self-signed certificate (``ca_bundle``), which bearer auth needs.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        default: Scenario | None = None,
        require_auth: bool = False,
        valid_access_keys: Iterable[str] | None = None,
        valid_bearer_tokens: Iterable[str] | None = None,
        expired_access_keys: Iterable[str] = (),
        validate_body: bool = True,
        tls: bool = False,
        verbose: bool = False,
        keep_requests: bool = True,
    ) -> None:
        self.host, self.port = host, port
        # Standalone (another process) nobody can read them, and a long benchmark must not grow the fake.
        self.keep_requests = keep_requests
        self.valid_access_keys = None if valid_access_keys is None else set(valid_access_keys)
        self.valid_bearer_tokens = None if valid_bearer_tokens is None else set(valid_bearer_tokens)
        self.expired_access_keys = set(expired_access_keys)
        self.require_auth = (
            require_auth
            or self.valid_access_keys is not None
            or self.valid_bearer_tokens is not None
            or bool(self.expired_access_keys)
        )
        self.validate_body = validate_body
        self.tls = tls
        self.verbose = verbose
        self.received: list[RecordedRequest] = []
        self._defaults: dict[str, Scenario] = {}
        self._queue: list[Scenario] = []
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._tls_dir: tempfile.TemporaryDirectory[str] | None = None
        self.ca_bundle: str | None = None  # the certificate to pass as ``verify=`` when tls=True
        if default is not None:
            self.set_default(default)

    # ---- lifecycle ---------------------------------------------------------------------------------------

    def start(self) -> FakeBedrock:
        if self._server is not None:
            return self
        context = None
        if self.tls:
            if self._tls_dir is None:
                self._tls_dir = tempfile.TemporaryDirectory(prefix="fake-bedrock-tls-")
                self.ca_bundle, self._key_path = _self_signed_certificate(self._tls_dir.name)
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(self.ca_bundle, self._key_path)
        self._stopping.clear()
        self._server = _Server((self.host, self.port), self, context)
        self.port = self._server.server_port
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-bedrock", daemon=True
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
        if self._tls_dir is not None:
            self._tls_dir.cleanup()
            self._tls_dir, self.ca_bundle = None, None

    def __enter__(self) -> FakeBedrock:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    # ---- scripting ---------------------------------------------------------------------------------------

    def enqueue(self, *scenarios: Scenario) -> None:
        """Queue one-shot answers (FIFO per route); they take priority over the default."""
        with self._lock:
            self._queue.extend(scenarios)

    def set_default(self, scenario: Scenario | None, *, route: str | None = None) -> None:
        """Answer unscripted requests of ``scenario.route`` with ``scenario`` every time; ``None`` restores
        the built-in answer for ``route`` (default ``"invoke"``)."""
        with self._lock:
            if scenario is None:
                self._defaults.pop(route or ROUTE_INVOKE, None)
            elif scenario.route == ANY_ROUTE:
                self._defaults[ROUTE_INVOKE] = self._defaults[ROUTE_COUNT_TOKENS] = scenario
            else:
                self._defaults[scenario.route] = scenario

    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    # ---- inspection --------------------------------------------------------------------------------------

    def last_request(self) -> RecordedRequest:
        with self._lock:
            if not self.received:
                raise AssertionError("fake Bedrock has received no request")
            return self.received[-1]

    def requests_for(self, operation: str | None = None, model_id: str | None = None) -> list[RecordedRequest]:
        with self._lock:
            return [
                r
                for r in self.received
                if (operation is None or r.operation == operation) and (model_id is None or r.model_id == model_id)
            ]

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> list[RecordedRequest]:
        """Block until at least ``count`` requests arrived (e.g. retries made in the background)."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self.received) >= count, timeout):
                raise AssertionError(f"expected {count} requests, got {len(self.received)} after {timeout}s")
            return list(self.received)

    def clear(self) -> None:
        """Forget received requests and queued scenarios (defaults stay)."""
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

    def _next_scenario(self, route: str) -> Scenario | None:
        with self._lock:
            for i, scenario in enumerate(self._queue):
                if scenario.route in (route, ANY_ROUTE):
                    return self._queue.pop(i)
            return self._defaults.get(route)

    def _auth_error(self, request: RecordedRequest) -> str | None:
        if not self.require_auth:
            return None
        if request.auth_scheme is None or not request.credential:
            return "MissingAuthenticationTokenException"
        if request.auth_scheme == "sigv4":
            if request.credential in self.expired_access_keys:
                return "ExpiredTokenException"
            allowed = self.valid_access_keys
        else:
            allowed = self.valid_bearer_tokens
        if allowed is not None and request.credential not in allowed:
            return "UnrecognizedClientException"
        return None

    def _answer(self, exchange: Exchange) -> None:
        request = exchange.request
        if request.operation is None or request.method != "POST":
            exchange.send_error("UnknownOperationException", f"Unknown operation: {request.method} {request.path}")
            return
        auth_error = self._auth_error(request)
        if auth_error is not None:
            exchange.send_error(auth_error)
            return
        route = ROUTE_COUNT_TOKENS if request.operation == OP_COUNT_TOKENS else ROUTE_INVOKE
        scenario = self._next_scenario(route)
        if route == ROUTE_INVOKE and self.validate_body and not isinstance(scenario, (ErrorScenario, RawScenario)):
            problem = _validate_invoke_body(exchange.body_json)
            if problem is not None:
                exchange.send_error("ValidationException", problem)
                return
        if scenario is None:
            scenario = _BUILTIN_COUNT_TOKENS if route == ROUTE_COUNT_TOKENS else _BUILTIN_MESSAGE
        if not exchange.sleep(scenario.delay):
            exchange.abort()
            return
        scenario.respond(exchange)


# ----------------------------------------------------------------------------------------------------
# Clients (helpers for tests)
# ----------------------------------------------------------------------------------------------------


def bearer_token_client(
    token: str,
    endpoint_url: str,
    *,
    region_name: str = "us-east-1",
    verify: str | bool | None = None,
    config: Any = None,
) -> Any:
    """A ``bedrock-runtime`` client that sends ``Authorization: Bearer <token>`` (a Bedrock API key) without
    touching ``AWS_BEARER_TOKEN_BEDROCK`` in ``os.environ``.

    botocore 1.44 resolves bearer tokens through the session's ``token_provider`` component (a
    ``TokenProviderChain``; its env provider reads ``AWS_BEARER_TOKEN_<SIGNING NAME>``, here ``..._BEDROCK``)
    and only *prefers* bearer auth automatically when that env var is set. So: a private botocore session
    whose token provider returns this token, and ``signature_version="bearer"`` set in code. Its credential
    chain is emptied too, so creating the client never looks for IAM credentials (env, files, IMDS). botocore
    sends bearer tokens over HTTPS only (``InvalidEndpointConfigurationError`` otherwise).
    """
    import boto3
    import botocore.session
    from botocore.config import Config
    from botocore.credentials import CredentialResolver
    from botocore.tokens import FrozenAuthToken

    class _StaticTokenProvider:
        def load_token(self, **kwargs: Any) -> FrozenAuthToken:
            return FrozenAuthToken(token)

    core = botocore.session.Session()
    core.register_component("token_provider", _StaticTokenProvider())
    core.register_component("credential_provider", CredentialResolver(providers=[]))
    bearer = Config(signature_version="bearer")
    return boto3.Session(botocore_session=core).client(
        "bedrock-runtime",
        region_name=region_name,
        endpoint_url=endpoint_url,
        verify=verify,
        config=bearer if config is None else config.merge(bearer),
    )


# ----------------------------------------------------------------------------------------------------
# Standalone use
# ----------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.support.fake_bedrock", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed on start)")
    parser.add_argument("--delay-ms", type=float, default=0.0, help="delay before the response headers")
    parser.add_argument("--event-interval-ms", type=float, default=0.0, help="delay between event frames")
    parser.add_argument("--text-events", type=int, default=None, help="number of text_delta events per answer")
    parser.add_argument("--text", default=None, help="fixed reply text (default: derived from the request)")
    parser.add_argument("--require-auth", action="store_true", help="403 without SigV4 or Bearer credentials")
    parser.add_argument("--tls", action="store_true", help="serve HTTPS with a self-signed certificate")
    parser.add_argument("--verbose", action="store_true", help="log each request to stderr")
    args = parser.parse_args(argv)

    default = Scenario.stream(
        text=args.text,
        text_events=args.text_events,
        event_delay=args.event_interval_ms / 1000,
        delay=args.delay_ms / 1000,
    )
    fake = FakeBedrock(
        args.host, args.port, default=default, require_auth=args.require_auth, tls=args.tls, verbose=args.verbose,
        keep_requests=False,
    )
    fake.start()
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    # Parents (benchmarks, `overspill dev`) read this line to learn the port.
    print(f"fake-bedrock listening on {fake.url}", flush=True)
    if fake.ca_bundle:
        print(f"fake-bedrock certificate {fake.ca_bundle}", flush=True)
    try:
        done.wait()
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
