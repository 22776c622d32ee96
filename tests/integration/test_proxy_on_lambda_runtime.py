"""The proxy handler served by the streaming runtime exactly as on Lambda: one handler, both worlds."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest

from overspill.local.function_url import function_url_event
from overspill.store.usage import UsageRepository
from tests.support.fake_anthropic import Scenario
from tests.support.lambda_proxy import LambdaProxy
from tests.support.runtime_api import DELIMITER


@pytest.fixture
def function(runtime_api, anthropic):
    with LambdaProxy(runtime_api.address, anthropic.url) as proxy:
        proxy.start_function()
        yield proxy


def messages_event(key: str, body: dict) -> dict:
    return function_url_event("POST", f"/ak/{key}/v1/messages", "beta=true",
                              [("content-type", "application/json"), ("x-api-key", "sk-ant-api03-lambda"),
                               ("anthropic-version", "2023-06-01"), ("x-claude-code-session-id", "sess-1"),
                               ("x-forwarded-for", "203.0.113.9"), ("x-amzn-trace-id", "Root=1-abc")],
                              json.dumps(body).encode())


def test_streamed_answer_goes_out_as_prelude_delimiter_and_sse(function, runtime_api, anthropic):
    anthropic.enqueue(Scenario.stream(text="from lambda", text_events=30, event_delay=0.02))
    body = {"model": "claude-opus-4-8", "max_tokens": 50, "stream": True,
            "messages": [{"role": "user", "content": "hi"}]}
    exchange = runtime_api.invoke(messages_event(function.key, body)).wait(timeout=30)

    assert exchange.kind == "response", exchange.problems
    assert exchange.body.count(DELIMITER) >= 1
    prelude = exchange.prelude
    assert prelude["statusCode"] == 200
    assert prelude["headers"]["x-overspill-route"] == "plan"
    assert prelude["headers"]["content-type"].startswith("text/event-stream")
    payload = exchange.payload
    assert payload.startswith(b"event: message_start") and payload.rstrip().endswith(b'{"type":"message_stop"}')
    # Streamed, not buffered: the SSE arrived over many chunks spread across the answer's duration.
    assert len(exchange.chunks) > 10
    assert exchange.chunks[1].at < exchange.chunks[-1].at - 0.3

    received = anthropic.last_request()
    assert received.body == json.dumps(body).encode()
    assert received.path == "/v1/messages?beta=true"
    assert received.header("x-api-key") == "sk-ant-api03-lambda"
    assert received.header("x-forwarded-for") is None and received.header("x-amzn-trace-id") is None

    # Written after the response ended (the body's close()), keyed by Lambda's request id.
    usage = UsageRepository(retention=timedelta(days=1))
    deadline = time.monotonic() + 10
    while (event := usage.get(exchange.request_id)) is None:
        assert time.monotonic() < deadline, "no usage event"
        time.sleep(0.05)
    assert event.session_id == "sess-1" and event.tokens.output_tokens > 0


def test_refusals_and_several_invocations_in_one_process(function, runtime_api, anthropic):
    refused = runtime_api.invoke(messages_event("ak_" + "U" * 43, {"model": "m"})).wait(timeout=30)
    assert refused.prelude["statusCode"] == 401
    assert json.loads(refused.payload)["error"]["type"] == "authentication_error"
    for _ in range(3):
        ok = runtime_api.invoke(messages_event(function.key, {"model": "claude-haiku-4-5-20251001",
                                                              "max_tokens": 5, "messages": []})).wait(timeout=30)
        assert ok.prelude["statusCode"] == 200 and json.loads(ok.payload)["type"] == "message"
    assert function.process.poll() is None  # one process served them all
