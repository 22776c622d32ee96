"""The plan upstream's faults, injected for real on loopback (fake Anthropic misbehaving on the wire, refused and
unanswered TCP handshakes), through the real proxy; each test asserts its fault-matrix row (plan_rows.py)."""

from __future__ import annotations

import json
import time

import anthropic as anthropic_sdk
import httpx
import pytest

from overspill.breaker import BreakerState
from overspill.users import RoutingMode
from tests.integration.faults.harness import (
    HEADERS,
    Instance,
    ask,
    assert_counted,
    assert_open_until,
    breaker_of,
    error_type_seen,
    refused_url,
    sse_events,
    streamed_text,
    unanswered_handshakes,
    usage_of,
)
from tests.integration.faults.matrix import check_client, row
from tests.support.fake_anthropic import Scenario, error_body, sse_event


def check_fell_back(response: httpx.Response, expected, reason: str) -> None:  # noqa: ANN001 - a Client
    check_client(expected, response.status_code, response.headers, error_type_seen(response))
    assert response.headers["x-overspill-fallback-reason"] == reason
    events = sse_events(response.content)
    assert events[0]["type"] == "message_start" and events[-1]["type"] == "message_stop"
    assert streamed_text(events) == "Hello from fake Bedrock"


def check_bedrock_usage(event, reason: str) -> None:  # noqa: ANN001 - a UsageEvent
    assert (event.route, event.status, event.fallback_reason, event.error_type) == ("bedrock", 200, reason, None)
    assert event.bedrock_model_id == "us.anthropic.claude-opus-4-8"
    assert event.tokens.input_tokens > 0 and event.tokens.output_tokens > 0


def test_plan_429_plan_limit(rig):
    expected = row("plan-429-plan-limit")
    developer = rig.developer()
    reset = int(time.time()) + 3600
    rig.anthropic.enqueue(Scenario.plan_limit(reset))
    response = ask(developer.base_url(rig.gateway))
    check_fell_back(response, expected.client, "plan_limit")
    check_bedrock_usage(usage_of(rig.gateway, response), "plan_limit")
    assert_open_until(breaker_of(developer), "plan_limit", reset, slack_s=0)

    rig.anthropic.clear()
    again = ask(developer.base_url(rig.gateway))
    assert again.headers["x-overspill-fallback-reason"] == "breaker_open"
    assert rig.anthropic.received == []  # the plan is left alone until its reset


def test_plan_429_throttle(rig):
    expected = row("plan-429-throttle")
    developer = rig.developer()
    rig.anthropic.enqueue(Scenario.raw(429, {"content-type": "application/json", "retry-after": "3"},
                                       json.dumps(error_body("rate_limit_error", "slow down")).encode()))
    asked_at = time.time()
    response = ask(developer.base_url(rig.gateway))
    check_fell_back(response, expected.client, "throttle")
    check_bedrock_usage(usage_of(rig.gateway, response), "throttle")
    assert_open_until(breaker_of(developer), "throttle", asked_at + 3, slack_s=1)


def test_plan_529(rig):
    expected = row("plan-529")
    developer = rig.developer()

    def overloaded() -> httpx.Response:
        rig.anthropic.enqueue(Scenario.error(529, "overloaded_error"))
        return ask(developer.base_url(rig.gateway))

    response = overloaded()
    check_fell_back(response, expected.client, "overloaded")
    check_bedrock_usage(usage_of(rig.gateway, response), "overloaded")
    assert_counted(overloaded, rig.gateway, developer, "overloaded")


@pytest.mark.parametrize("status", [500, 502, 503])
def test_plan_5xx(rig, status):
    expected = row("plan-5xx")
    developer = rig.developer()

    def failing() -> httpx.Response:
        rig.anthropic.enqueue(Scenario.error(status, "api_error", "Internal server error"))
        return ask(developer.base_url(rig.gateway))

    response = failing()
    check_fell_back(response, expected.client, "server_error")
    check_bedrock_usage(usage_of(rig.gateway, response), "server_error")
    assert_counted(failing, rig.gateway, developer, "server_error")


def test_plan_connection_refused(rig):
    expected = row("plan-connection-refused")
    developer = rig.developer()
    with Instance(rig.gateway, anthropic_url=refused_url()) as instance:
        response = ask(developer.base_url(instance))
        check_fell_back(response, expected.client, "unreachable")
        check_bedrock_usage(usage_of(instance, response), "unreachable")
        assert_counted(lambda: ask(developer.base_url(instance)), instance, developer, "unreachable")


def test_plan_connect_timeout(rig):
    expected = row("plan-connect-timeout")
    developer = rig.developer()
    with unanswered_handshakes() as plan_url, \
            Instance(rig.gateway, anthropic_url=plan_url, upstream_connect_timeout_s=0.3) as instance:
        started = time.monotonic()
        response = ask(developer.base_url(instance))
        assert time.monotonic() - started >= 0.3  # the connect timeout
        check_fell_back(response, expected.client, "timeout")
        check_bedrock_usage(usage_of(instance, response), "timeout")
        assert_counted(lambda: ask(developer.base_url(instance)), instance, developer, "timeout")


@pytest.mark.parametrize("stream", [True, False], ids=["streaming", "non-streaming"])
def test_plan_read_timeout_before_first_byte(rig, stream):
    expected = row("plan-read-timeout-before-first-byte")
    developer = rig.developer()
    rig.anthropic.set_default(Scenario.delay_before_headers(3))
    read_timeout = 5.0 if stream else 0.5
    with Instance(rig.gateway, plan_first_byte_timeout_s=0.3, upstream_read_timeout_s=read_timeout) as instance:
        started = time.monotonic()
        response = ask(developer.base_url(instance), stream=stream)
        waited = time.monotonic() - started
        if stream:
            check_fell_back(response, expected.client, "timeout")
            assert 0.3 <= waited < 4.5  # the first-byte timeout, not the 5 s read timeout
        else:
            check_client(expected.client, response.status_code, response.headers, error_type_seen(response))
            assert response.headers["x-overspill-fallback-reason"] == "timeout"
            assert response.json()["content"][0]["text"] == "Hello from fake Bedrock"
            assert waited >= 0.5  # the read timeout: the first-byte timeout is for streams only
        event = usage_of(instance, response)
        assert (event.route, event.status, event.fallback_reason, event.streamed) == (
            "bedrock", 200, "timeout", stream)
        assert event.tokens.output_tokens > 0
        assert_counted(lambda: ask(developer.base_url(instance), stream=stream), instance, developer, "timeout")


def test_plan_disconnect_mid_stream(rig):
    expected = row("plan-disconnect-mid-stream")
    developer = rig.developer()
    rig.anthropic.enqueue(Scenario.disconnect_mid_stream(after_events=4))
    response = ask(developer.base_url(rig.gateway))
    check_client(expected.client, response.status_code, response.headers, error_type_seen(response))
    events = sse_events(response.content)
    assert [e["type"] for e in events[:4]] == ["message_start", "content_block_start", "ping",
                                              "content_block_delta"]
    assert "broke mid-answer" in events[-1]["error"]["message"]
    event = usage_of(rig.gateway, response)
    assert (event.route, event.status, event.error_type, event.client_disconnected) == (
        "plan", 200, "api_error", False)
    assert event.tokens.input_tokens == events[0]["message"]["usage"]["input_tokens"] > 0
    assert breaker_of(developer).state is BreakerState.CLOSED


def test_plan_disconnect_mid_body(rig):
    expected = row("plan-disconnect-mid-body")
    developer = rig.developer()
    rig.anthropic.enqueue(Scenario.disconnect_mid_stream())
    received = bytearray()
    with httpx.stream("POST", developer.base_url(rig.gateway) + "/v1/messages", headers=HEADERS,
                      json={"model": "claude-opus-4-8", "max_tokens": 100,
                            "messages": [{"role": "user", "content": "hi"}]}) as response:
        with pytest.raises(httpx.RemoteProtocolError):
            for chunk in response.iter_raw():
                received += chunk
        check_client(expected.client, response.status_code, response.headers, None)
    assert received.startswith(b'{"id":"msg_') and not received.endswith(b"}")
    event = usage_of(rig.gateway, response)
    assert (event.route, event.status, event.error_type, event.client_disconnected) == (
        "plan", 200, "api_error", False)
    assert event.tokens.input_tokens == event.tokens.output_tokens == 0
    assert breaker_of(developer).state is BreakerState.CLOSED

    # What the SDK makes of it: a connection error, which it (and Claude Code) retries.
    rig.anthropic.enqueue(Scenario.disconnect_mid_stream())
    client = anthropic_sdk.Anthropic(base_url=developer.base_url(rig.gateway), api_key="sk-ant-x", max_retries=0)
    with pytest.raises(anthropic_sdk.APIConnectionError):
        client.messages.create(model="claude-opus-4-8", max_tokens=100, messages=[{"role": "user", "content": "hi"}])


def test_plan_sse_error_mid_stream(rig):
    expected = row("plan-sse-error-mid-stream")
    developer = rig.developer()
    rig.anthropic.enqueue(Scenario.sse_error_mid_stream(after_events=3, error_type="overloaded_error",
                                                        message="Overloaded, exactly as Anthropic says it"))
    response = ask(developer.base_url(rig.gateway))
    check_client(expected.client, response.status_code, response.headers, error_type_seen(response))
    assert response.content.endswith(sse_event("error", {"type": "error", "error": {
        "type": "overloaded_error", "message": "Overloaded, exactly as Anthropic says it"}}))
    event = usage_of(rig.gateway, response)
    assert (event.route, event.status, event.error_type) == ("plan", 200, "overloaded_error")
    assert event.tokens.input_tokens == sse_events(response.content)[0]["message"]["usage"]["input_tokens"] > 0
    assert breaker_of(developer).state is BreakerState.CLOSED


MESSAGE_START = {"type": "message_start", "message": {
    "id": "msg_01malformed", "type": "message", "role": "assistant", "model": "claude-opus-4-8", "content": [],
    "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 321, "output_tokens": 1}}}
MALFORMED_SSE = b"".join([
    sse_event("message_start", MESSAGE_START),
    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_del\n\n',
    b'event: message_delta\ndata: {"type":"message_delta","usage":{"output_tokens":99},"x":"\xff\xfe"}\n\n',
    b"event: message_delta\ndata: this is not JSON\n\n",
    b"event: message_delta\n\n",
    sse_event("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                                "usage": {"output_tokens": 17}}),
    sse_event("message_stop", {"type": "message_stop"}),
])


def test_plan_malformed_sse(rig):
    expected = row("plan-malformed-sse")
    developer = rig.developer()
    rig.anthropic.enqueue(Scenario.raw(200, {"content-type": "text/event-stream; charset=utf-8"}, MALFORMED_SSE))
    response = ask(developer.base_url(rig.gateway))
    check_client(expected.client, response.status_code, response.headers, error_type_seen(response))
    assert response.content == MALFORMED_SSE
    event = usage_of(rig.gateway, response)
    assert (event.route, event.status, event.error_type, event.stop_reason) == ("plan", 200, None, "end_turn")
    assert (event.tokens.input_tokens, event.tokens.output_tokens) == (321, 17)
    assert breaker_of(developer).state is BreakerState.CLOSED

    # A strict client fails on the broken event; the gateway itself carries on.
    rig.anthropic.enqueue(Scenario.raw(200, {"content-type": "text/event-stream; charset=utf-8"}, MALFORMED_SSE))
    client = anthropic_sdk.Anthropic(base_url=developer.base_url(rig.gateway), api_key="sk-ant-x", max_retries=0)
    with pytest.raises(ValueError):
        with client.messages.stream(model="claude-opus-4-8", max_tokens=100,
                                    messages=[{"role": "user", "content": "hi"}]) as stream:
            stream.get_final_message()
    assert ask(developer.base_url(rig.gateway)).status_code == 200


def test_plan_large_answer(rig):
    expected = row("plan-large-answer")
    developer = rig.developer()
    text = "".join(f"{i:07d} " + "x" * 4088 for i in range(4096))  # 16 MB, every 4 KB numbered
    rig.anthropic.enqueue(Scenario.stream(text=text, text_events=4096,
                                          usage={"input_tokens": 4321, "output_tokens": 2_500_000}))
    received = bytearray()
    with httpx.stream("POST", developer.base_url(rig.gateway) + "/v1/messages", headers=HEADERS, timeout=30,
                      json={"model": "claude-opus-4-8", "max_tokens": 128000, "stream": True,
                            "messages": [{"role": "user", "content": "write a lot"}]}) as response:
        for chunk in response.iter_raw():
            received += chunk
    check_client(expected.client, response.status_code, response.headers, error_type_seen(response, received))
    events = sse_events(bytes(received))
    assert streamed_text(events) == text
    assert events[-1] == {"type": "message_stop"}
    event = usage_of(rig.gateway, response)
    assert (event.route, event.status, event.stop_reason) == ("plan", 200, "end_turn")
    assert (event.tokens.input_tokens, event.tokens.output_tokens) == (4321, 2_500_000)
    assert breaker_of(developer).state is BreakerState.CLOSED


def test_plan_only_429_plan_limit(rig):
    expected = row("plan-only-429-plan-limit")
    developer = rig.developer(RoutingMode.PLAN_ONLY)
    rig.plan_limited()
    response = ask(developer.base_url(rig.gateway))
    check_client(expected.client, response.status_code, response.headers, error_type_seen(response))
    assert response.headers["anthropic-ratelimit-unified-status"] == "rejected"
    assert 3500 <= int(response.headers["retry-after"]) <= 3600
    assert response.json()["error"]["message"] == ("This request would exceed your account's rate limit. "
                                                    "Please try again later.")
    assert rig.bedrock.received == []
    event = usage_of(rig.gateway, response)
    assert (event.route, event.status, event.error_type, event.fallback_reason) == (
        "plan", 429, "rate_limit_error", None)
    assert event.tokens.input_tokens == 0
    assert breaker_of(developer).revision == 0  # never written


def check_plan_only_refusal(instance: Instance, developer, expected, status: int, said: str,  # noqa: ANN001
                            **ask_options) -> None:
    response = ask(developer.base_url(instance), **ask_options)
    check_client(expected.client, response.status_code, response.headers, error_type_seen(response))
    message = response.json()["error"]["message"]
    assert said in message and "retrying may work" in message
    event = usage_of(instance, response)
    assert (event.route, event.status, event.error_type, event.fallback_reason) == (
        "plan", status, "api_error", None)
    assert breaker_of(developer).revision == 0


def test_plan_only_connection_refused(rig):
    developer = rig.developer(RoutingMode.PLAN_ONLY)
    with Instance(rig.gateway, anthropic_url=refused_url()) as instance:
        check_plan_only_refusal(instance, developer, row("plan-only-connection-refused"), 502,
                                "could not reach Anthropic")
    assert rig.bedrock.received == []


def test_plan_only_connect_timeout(rig):
    developer = rig.developer(RoutingMode.PLAN_ONLY)
    with unanswered_handshakes() as plan_url, \
            Instance(rig.gateway, anthropic_url=plan_url, upstream_connect_timeout_s=0.3) as instance:
        check_plan_only_refusal(instance, developer, row("plan-only-connect-timeout"), 504,
                                "got no answer in time from Anthropic")
    assert rig.bedrock.received == []


def test_plan_only_read_timeout(rig):
    developer = rig.developer(RoutingMode.PLAN_ONLY)
    rig.anthropic.set_default(Scenario.delay_before_headers(3))
    with Instance(rig.gateway, plan_first_byte_timeout_s=0.1, upstream_read_timeout_s=0.5) as instance:
        started = time.monotonic()
        check_plan_only_refusal(instance, developer, row("plan-only-read-timeout"), 504, "read timeout")
        assert time.monotonic() - started >= 0.5  # the read timeout: no first-byte cut without a fallback
    assert rig.bedrock.received == []
