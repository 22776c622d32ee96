"""The proxy function behind API Gateway REST (response streaming): the v1 event gets, byte for byte, the streamed
prelude and SSE a Function URL event gets, through the same handler on the streaming runtime."""

from __future__ import annotations

import json
import re
import time
from datetime import timedelta

import pytest

from overspill.local.function_url import function_url_event
from overspill.store.usage import UsageRepository
from tests.support.fake_anthropic import Scenario
from tests.support.lambda_proxy import LambdaProxy
from tests.support.rest_events import rest_proxy_event

# Different for every answer whichever door it came through: Anthropic's ids, ours, and our own timing.
PER_ANSWER_HEADERS = {"request-id", "x-overspill-request-id", "x-overspill-overhead-ms"}
_IDS = re.compile(rb"(msg|req|toolu)_01[0-9A-Za-z]{22}")
BODY = {"model": "claude-opus-4-8", "max_tokens": 200, "stream": True,
        "messages": [{"role": "user", "content": "stream me something"}]}


@pytest.fixture
def function(runtime_api, anthropic):
    with LambdaProxy(runtime_api.address, anthropic.url) as proxy:
        proxy.start_function()
        yield proxy


def http_request(key: str, body: dict) -> tuple:
    headers = [("content-type", "application/json"), ("x-api-key", "sk-ant-api03-lambda"),
               ("anthropic-version", "2023-06-01"), ("anthropic-beta", "claude-code-20250219"),
               ("anthropic-beta", "context-1m-2025-08-07"), ("x-claude-code-session-id", "sess-rest"),
               ("user-agent", "claude-cli/2.1.197 (external, sdk-cli)")]
    return "POST", f"/ak/{key}/v1/messages", "beta=true", headers, json.dumps(body).encode()


def answer_of(exchange) -> tuple[int, dict[str, str], bytes]:
    assert exchange.kind == "response", exchange.problems
    assert exchange.problems == []
    prelude = exchange.prelude
    # Per-answer values are compared by presence; the fake's rate-limit resets follow the clock.
    headers = {k: "<per answer>" if k in PER_ANSWER_HEADERS or k.endswith("-reset") else v
               for k, v in prelude["headers"].items()}
    payload = exchange.payload.replace(exchange.request_id.encode(), b"<lambda request id>")
    return prelude["statusCode"], headers, _IDS.sub(rb"\1_ID", payload)


def streamed_text(payload: bytes) -> str:
    """The text a client shows for an SSE answer: its text deltas, joined."""
    events = [json.loads(line[len(b"data: "):]) for line in payload.split(b"\n") if line.startswith(b"data: ")]
    return "".join(e["delta"]["text"] for e in events
                   if e["type"] == "content_block_delta" and e["delta"]["type"] == "text_delta")


def test_a_rest_api_request_streams_the_same_prelude_and_sse_as_a_function_url_request(function, runtime_api,
                                                                                        anthropic):
    for _ in range(2):
        anthropic.enqueue(Scenario.stream(text="the same answer either way", text_events=20, event_delay=0.02))
    request = http_request(function.key, BODY)

    via_url = runtime_api.invoke(function_url_event(*request)).wait(timeout=30)
    sent_via_url = anthropic.last_request()
    via_rest = runtime_api.invoke(rest_proxy_event(*request, stage="prod")).wait(timeout=30)
    sent_via_rest = anthropic.last_request()

    status, headers, payload = answer_of(via_rest)
    assert (status, headers, payload) == answer_of(via_url)
    assert status == 200 and headers["content-type"].startswith("text/event-stream")
    assert headers["x-overspill-route"] == "plan"
    assert payload.startswith(b"event: message_start") and payload.rstrip().endswith(b'{"type":"message_stop"}')
    assert streamed_text(payload) == "the same answer either way"
    # Streamed through the REST door too, not buffered.
    assert len(via_rest.chunks) > 10 and via_rest.chunks[1].at < via_rest.chunks[-1].at - 0.2

    # Anthropic cannot tell the doors apart: same path and query, body, and headers (API Gateway's own stopped).
    assert sent_via_rest.path == sent_via_url.path == "/v1/messages?beta=true"
    assert sent_via_rest.body == sent_via_url.body == json.dumps(BODY).encode()
    assert sorted(sent_via_rest.headers) == sorted(sent_via_url.headers)
    assert sent_via_rest.header("anthropic-beta") == "claude-code-20250219,context-1m-2025-08-07"
    assert sent_via_rest.header("x-forwarded-for") is None and sent_via_rest.header("x-amzn-trace-id") is None

    # Usage is recorded for the REST request like any other, under Lambda's request id.
    usage = UsageRepository(retention=timedelta(days=1))
    deadline = time.monotonic() + 10
    while (event := usage.get(via_rest.request_id)) is None:
        assert time.monotonic() < deadline, "no usage event for the REST request"
        time.sleep(0.05)
    assert event.session_id == "sess-rest" and event.tokens.output_tokens > 0 and event.route == "plan"


def test_a_refusal_reads_the_same_through_either_door(function, runtime_api):
    request = http_request("ak_" + "U" * 43, BODY)
    via_url = runtime_api.invoke(function_url_event(*request)).wait(timeout=30)
    via_rest = runtime_api.invoke(rest_proxy_event(*request)).wait(timeout=30)
    assert answer_of(via_rest) == answer_of(via_url)
    assert via_rest.prelude["statusCode"] == 401
    assert json.loads(via_rest.payload)["error"]["type"] == "authentication_error"


def test_an_unreadable_rest_event_gets_a_400_and_the_function_keeps_serving(function, runtime_api, anthropic):
    event = rest_proxy_event(*http_request(function.key, BODY))
    event.update(body="this is not base64!", isBase64Encoded=True)
    refused = runtime_api.invoke(event).wait(timeout=30)

    assert refused.kind == "response", "the runtime reported an error instead of answering"
    assert refused.prelude["statusCode"] == 400
    error = json.loads(refused.payload)["error"]
    assert error["type"] == "invalid_request_error" and "'body'" in error["message"]

    anthropic.enqueue(Scenario.stream(text="still here"))
    ok = runtime_api.invoke(rest_proxy_event(*http_request(function.key, BODY))).wait(timeout=30)
    assert ok.prelude["statusCode"] == 200 and streamed_text(ok.payload) == "still here"
    assert function.process.poll() is None
