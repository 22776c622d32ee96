"""The plan route through the real proxy: bytes unchanged both ways, streamed as they arrive, usage recorded."""

from __future__ import annotations

import json
import time

import anthropic as anthropic_sdk
import httpx
import pytest

from overspill.users import RoutingMode
from tests.support.claude_code_fixtures import load_all
from tests.support.fake_anthropic import Scenario
from tests.support.gateway import wait_for_usage

FIXTURES = load_all()


def claude_code_headers(fixture) -> dict[str, str]:
    return dict(fixture.headers)


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda f: f.name)
def test_claude_code_requests_reach_anthropic_byte_for_byte(gateway, developer, anthropic, fixture):
    response = httpx.post(gateway.url + fixture.path_for_key(developer.key), content=fixture.body,
                          headers=claude_code_headers(fixture), timeout=10)
    assert response.status_code == 200, response.text

    received = anthropic.last_request()
    assert received.body == fixture.body
    assert received.path == "/v1/messages?beta=true"  # key prefix removed, query kept
    for name in ("anthropic-beta", "anthropic-version", "x-claude-code-session-id", "user-agent", "x-app",
                 "x-stainless-timeout"):
        assert received.header(name) == fixture.headers[next(k for k in fixture.headers if k.lower() == name)]
    credential = fixture.headers.get("x-api-key") or fixture.headers.get("Authorization")
    assert credential in (received.header("x-api-key"), received.header("authorization"))
    assert received.header("host") == anthropic.url.split("//")[1]
    assert developer.key not in json.dumps(received.headers)

    assert response.headers["x-overspill-route"] == "plan"
    assert float(response.headers["x-overspill-overhead-ms"]) >= 0
    assert response.headers["request-id"].startswith("req_")
    assert response.headers["anthropic-ratelimit-unified-status"] == "allowed"
    if fixture.streams:
        assert response.headers["content-type"].startswith("text/event-stream")
        assert "event: message_stop" in response.text
    else:
        assert response.json()["type"] == "message"

    event = wait_for_usage(gateway, response.headers["x-overspill-request-id"])
    assert event.session_id == fixture.headers["X-Claude-Code-Session-Id"]
    assert event.model == json.loads(fixture.body)["model"]
    assert event.tokens.input_tokens > 0 and event.tokens.output_tokens > 0
    assert event.streamed is fixture.streams


def test_sdk_stream_gets_text_thinking_and_tool_use_and_usage_is_recorded(gateway, developer, anthropic):
    anthropic.enqueue(Scenario.stream(text="Forty-two.", thinking=True,
                                      tool_use={"name": "Bash", "input": {"command": "ls -la"}}))
    client = anthropic_sdk.Anthropic(base_url=developer.base_url(gateway), api_key="sk-ant-api03-dev",
                                     max_retries=0)
    with client.messages.stream(model="claude-opus-4-8", max_tokens=1024,
                                thinking={"type": "enabled", "budget_tokens": 512},
                                messages=[{"role": "user", "content": "what is six times seven?"}]) as stream:
        final = stream.get_final_message()
        request_id = stream.response.headers["x-overspill-request-id"]
    kinds = [block.type for block in final.content]
    assert kinds == ["thinking", "text", "tool_use"]
    assert final.content[0].signature
    assert final.content[1].text == "Forty-two."
    assert final.content[2].input == {"command": "ls -la"}

    event = wait_for_usage(gateway, request_id)
    assert event.tokens.input_tokens == final.usage.input_tokens
    assert event.tokens.output_tokens == final.usage.output_tokens
    assert event.tokens.cache_read_input_tokens == (final.usage.cache_read_input_tokens or 0)
    assert event.stop_reason == final.stop_reason
    assert (event.user_id, event.key_prefix, event.route, event.status) == (
        developer.user_id, developer.prefix, "plan", 200)
    assert event.ttfb_ms is not None and 0 < event.ttfb_ms <= event.duration_ms
    assert not event.client_disconnected


def test_first_byte_reaches_the_client_before_anthropic_finishes(gateway, developer, anthropic):
    anthropic.enqueue(Scenario.stream(text_events=20, event_delay=0.05))
    body = json.dumps({"model": "claude-haiku-4-5-20251001", "max_tokens": 10, "stream": True,
                       "messages": [{"role": "user", "content": "hi"}]})
    arrivals = []
    started = time.perf_counter()
    with httpx.stream("POST", developer.base_url(gateway) + "/v1/messages", content=body,
                      headers={"x-api-key": "sk-ant-x", "content-type": "application/json"}) as response:
        for chunk in response.iter_raw():
            arrivals.append((time.perf_counter() - started, chunk))
    total = arrivals[-1][0]
    assert b"message_start" in arrivals[0][1]
    assert arrivals[0][0] < total / 3, f"first chunk at {arrivals[0][0]:.3f}s of {total:.3f}s"
    assert len(arrivals) > 10  # chunks passed through as they came, not buffered into one


def test_non_streaming_answer_and_its_usage(gateway, developer):
    client = anthropic_sdk.Anthropic(base_url=developer.base_url(gateway), api_key="sk-ant-x", max_retries=0)
    raw = client.messages.with_raw_response.create(
        model="claude-haiku-4-5-20251001", max_tokens=50,
        messages=[{"role": "user", "content": "reply with: pong"}])
    message = raw.parse()
    assert message.content[0].text == "pong"
    event = wait_for_usage(gateway, raw.headers["x-overspill-request-id"])
    assert (event.tokens.input_tokens, event.tokens.output_tokens) == (
        message.usage.input_tokens, message.usage.output_tokens)
    assert event.streamed is False and event.stop_reason == "end_turn"


def test_count_tokens_and_models_pass_through(gateway, developer, anthropic):
    client = anthropic_sdk.Anthropic(base_url=developer.base_url(gateway), api_key="sk-ant-x", max_retries=0)
    counted = client.messages.count_tokens(model="claude-opus-4-8",
                                           messages=[{"role": "user", "content": "hello " * 100}])
    assert counted.input_tokens > 0
    assert anthropic.last_request().route_path == "/v1/messages/count_tokens"
    models = client.models.list(limit=1000)
    assert any(model.id for model in models.data)
    assert anthropic.last_request().path.startswith("/v1/models")


def test_anthropic_errors_pass_through_unchanged_and_are_recorded(gateway, anthropic):
    developer = gateway.add_developer("PlanOnly", routing_mode=RoutingMode.PLAN_ONLY)  # never falls back
    anthropic.enqueue(Scenario.error(429, "rate_limit_error", "Number of request tokens has exceeded your limit",
                                     headers={"retry-after": "7", "anthropic-ratelimit-tokens-remaining": "0"}))
    response = httpx.post(developer.base_url(gateway) + "/v1/messages", headers={"x-api-key": "k"},
                          json={"model": "claude-opus-4-8", "max_tokens": 5, "messages": []})
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    assert response.headers["anthropic-ratelimit-tokens-remaining"] == "0"
    assert response.json()["error"] == {"type": "rate_limit_error",
                                        "message": "Number of request tokens has exceeded your limit"}
    event = wait_for_usage(gateway, response.headers["x-overspill-request-id"])
    assert (event.status, event.error_type, event.tokens.input_tokens) == (429, "rate_limit_error", 0)


def test_client_that_disconnects_mid_stream_still_leaves_a_usage_event(gateway, developer, anthropic):
    anthropic.enqueue(Scenario.stream(text_events=200, event_delay=0.02))
    body = json.dumps({"model": "claude-opus-4-8", "max_tokens": 10, "stream": True,
                       "messages": [{"role": "user", "content": "write a long story"}]})
    with httpx.stream("POST", developer.base_url(gateway) + "/v1/messages", content=body,
                      headers={"x-api-key": "k"}) as response:
        request_id = response.headers["x-overspill-request-id"]
        for chunk in response.iter_raw():
            if b"content_block_delta" in chunk:
                break  # the developer pressed Esc
    event = wait_for_usage(gateway, request_id, timeout_s=10)
    assert event.client_disconnected is True
    assert event.tokens.input_tokens > 0  # what was seen before the disconnect
    upstream = anthropic.last_request()
    assert upstream.finished.wait(5)
    assert upstream.client_disconnected, "the upstream call should have been cancelled"


def test_upstream_dropping_mid_stream_becomes_an_sse_error_claude_code_retries(gateway, developer, anthropic):
    anthropic.enqueue(Scenario.disconnect_mid_stream(after_events=4))
    body = json.dumps({"model": "claude-opus-4-8", "max_tokens": 10, "stream": True, "messages": []})
    response = httpx.post(developer.base_url(gateway) + "/v1/messages", content=body, headers={"x-api-key": "k"})
    assert response.status_code == 200
    last_event = response.text.strip().split("\n\n")[-1]
    assert last_event.startswith("event: error")
    error = json.loads(last_event.split("data: ", 1)[1])["error"]
    assert error["type"] == "api_error" and "broke mid-answer" in error["message"]
    event = wait_for_usage(gateway, response.headers["x-overspill-request-id"])
    assert event.error_type == "api_error" and not event.client_disconnected


def test_sse_error_event_from_anthropic_passes_through(gateway, developer, anthropic):
    anthropic.enqueue(Scenario.sse_error_mid_stream(after_events=3, error_type="overloaded_error"))
    body = json.dumps({"model": "claude-opus-4-8", "max_tokens": 10, "stream": True, "messages": []})
    response = httpx.post(developer.base_url(gateway) + "/v1/messages", content=body, headers={"x-api-key": "k"})
    assert "event: error" in response.text and "overloaded_error" in response.text
    event = wait_for_usage(gateway, response.headers["x-overspill-request-id"])
    assert event.error_type == "overloaded_error"
