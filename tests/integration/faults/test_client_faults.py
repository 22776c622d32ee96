"""The developer's side of the gateway misbehaving: leaving mid-stream, reading slowly, sending oversized headers —
with the real httpx client against the Function URL emulator. Each test asserts its fault-matrix row
(client_rows.py)."""

from __future__ import annotations

import http.server
import socket
import time
import tracemalloc
from pathlib import Path

import h11
import httpcore
import httpx
import pytest

import overspill
from overspill.breaker import BreakerState
from tests.integration.faults.harness import (
    HEADERS,
    assert_open_until,
    breaker_of,
    error_type_seen,
    sse_events,
    streamed_text,
    usage_of,
)
from tests.integration.faults.matrix import check_client, row
from tests.support.fake_anthropic import Scenario
from tests.support.fake_bedrock import Scenario as BedrockScenario

BODY = {"model": "claude-opus-4-8", "max_tokens": 4096, "stream": True,
        "messages": [{"role": "user", "content": "write a long story"}]}


def leave_after_first_delta(base_url: str) -> httpx.Response:
    """Stream a request and hang up once the first text delta arrived, as Claude Code does on Esc."""
    received = b""
    with httpx.stream("POST", base_url + "/v1/messages", json=BODY, headers=HEADERS, timeout=10) as response:
        for chunk in response.iter_raw():
            received += chunk
            if b"content_block_delta" in received:
                break
    response.received = received
    return response


def check_left(upstream, left_at: float) -> None:  # noqa: ANN001 - a fake's RecordedRequest
    """The upstream call was cut: the fake saw its connection closed while it still had events to send."""
    assert upstream.finished.wait(5)
    assert upstream.client_disconnected, "the upstream kept streaming to a client that had left"
    assert time.monotonic() - left_at < 3  # before the 4 s stream would have ended


def test_client_disconnects_mid_stream(rig):
    expected = row("client-disconnects-mid-stream")
    developer = rig.developer()
    rig.anthropic.enqueue(Scenario.stream(text_events=200, event_delay=0.02))
    response = leave_after_first_delta(developer.base_url(rig.gateway))
    left_at = time.monotonic()
    check_client(expected.client, response.status_code, response.headers, error_type_seen(response, response.received))
    check_left(rig.anthropic.last_request(), left_at)
    event = usage_of(rig.gateway, response)
    assert (event.route, event.status, event.client_disconnected, event.error_type) == ("plan", 200, True, None)
    assert event.tokens.input_tokens == sse_events(response.received)[0]["message"]["usage"]["input_tokens"] > 0
    assert breaker_of(developer).state is BreakerState.CLOSED


def test_client_disconnects_mid_stream_bedrock(rig):
    expected = row("client-disconnects-mid-stream-bedrock")
    developer = rig.developer()
    reset = int(time.time()) + 3600
    rig.anthropic.enqueue(Scenario.plan_limit(reset))
    rig.bedrock.enqueue(BedrockScenario.stream(text_events=200, event_delay=0.02))
    response = leave_after_first_delta(developer.base_url(rig.gateway))
    left_at = time.monotonic()
    check_client(expected.client, response.status_code, response.headers, error_type_seen(response, response.received))
    check_left(rig.bedrock.last_request(), left_at)
    event = usage_of(rig.gateway, response)
    assert (event.route, event.fallback_reason, event.status, event.client_disconnected) == (
        "bedrock", "plan_limit", 200, True)
    assert event.tokens.input_tokens == sse_events(response.received)[0]["message"]["usage"]["input_tokens"] > 0
    assert_open_until(breaker_of(developer), "plan_limit", reset, slack_s=0)


# Where the gateway's own allocations happen: its package, its HTTP client, the emulator's HTTP server, sockets.
GATEWAY_CODE = tuple(str(Path(module.__file__).parent) for module in (overspill, httpx, httpcore, h11)) + (
    http.server.__file__, socket.__file__)


def test_client_slow_reader(rig):
    expected = row("client-slow-reader")
    developer = rig.developer()
    text = "".join(f"{i:07d} " + "x" * 8184 for i in range(24 * 128))  # 24 MB in 8 KB deltas
    rig.anthropic.enqueue(Scenario.stream(text=text, text_events=24 * 128,
                                          usage={"input_tokens": 900, "output_tokens": 6_000_000}))
    small_window = httpx.HTTPTransport(socket_options=[(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)])
    try:
        with httpx.Client(transport=small_window, timeout=30) as client, \
                client.stream("POST", developer.base_url(rig.gateway) + "/v1/messages", json=BODY,
                              headers=HEADERS) as response:
            chunks = response.iter_raw(64 * 1024)
            received = bytearray(next(chunks))
            tracemalloc.start()  # from here: whatever the gateway takes in while its reader does not read
            time.sleep(0.5)  # the reader falls behind
            upstream = rig.anthropic.last_request()
            assert not upstream.finished.is_set(), "Anthropic's stream ran ahead of the client: someone buffers it"
            held = sum(stat.size for stat in tracemalloc.take_snapshot().statistics("filename")
                       if stat.traceback[0].filename.startswith(GATEWAY_CODE))
            tracemalloc.stop()
            assert held < 2 * 1024 * 1024, f"the gateway holds {held / 1e6:.1f} MB for a reader that fell behind"
            for chunk in chunks:
                received += chunk
    finally:
        tracemalloc.stop()
    check_client(expected.client, response.status_code, response.headers, error_type_seen(response, received))
    events = sse_events(bytes(received))
    assert streamed_text(events) == text and events[-1] == {"type": "message_stop"}
    event = usage_of(rig.gateway, response)
    assert (event.route, event.status, event.client_disconnected) == ("plan", 200, False)
    assert (event.tokens.input_tokens, event.tokens.output_tokens) == (900, 6_000_000)
    assert breaker_of(developer).state is BreakerState.CLOSED


@pytest.mark.parametrize("headers", [
    {"x-big": "a" * 70_000},
    {f"x-header-{i}": "v" for i in range(150)},
    {f"x-header-{i}": "a" * 60_000 for i in range(20)},
], ids=["one-line-over-64KB", "over-100-headers", "over-1MB-in-all"])
def test_client_oversized_headers(rig, headers):
    expected = row("client-oversized-headers")
    developer = rig.developer()
    response = httpx.post(developer.base_url(rig.gateway) + "/v1/messages", json=BODY,
                          headers={**HEADERS, **headers}, timeout=10)
    check_client(expected.client, response.status_code, response.headers, error_type_seen(response))
    assert response.json() == {"Message": "Request Header Fields Too Large"}
    assert developer.key not in response.text
    assert rig.anthropic.received == []
    time.sleep(0.1)  # a usage write, were there one, comes after the response
    assert rig.gateway.usage.for_user(developer.user_id) == []
    assert breaker_of(developer).revision == 0
    assert httpx.post(developer.base_url(rig.gateway) + "/v1/messages", json=BODY, headers=HEADERS,
                      timeout=10).status_code == 200  # the gateway serves the next request as usual
