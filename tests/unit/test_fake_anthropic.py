"""The fake Anthropic API speaks the wire formats the real SDK understands, and records requests exactly."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import anthropic
import httpx
import pytest

from tests.support.fake_anthropic import DEFAULT_REPLY, FakeAnthropic, Scenario, split_text

REPO = Path(__file__).resolve().parents[2]
MODEL = "claude-opus-4-8"
HI = [{"role": "user", "content": "hi"}]
STREAM_BODY = {"model": MODEL, "stream": True, "messages": HI}
PLAIN_BODY = {"model": MODEL, "messages": HI}


@pytest.fixture
def fake():
    with FakeAnthropic() as server:
        yield server


@pytest.fixture
def client(fake):
    with anthropic.Anthropic(base_url=fake.url, api_key="sk-ant-test", max_retries=0) as sdk:
        yield sdk


def sse_events(text: str) -> list[tuple[str, dict]]:
    """Parse an SSE body strictly: every event is exactly ``event: <type>\\ndata: <json>\\n\\n``."""
    assert text.endswith("\n\n")
    events = []
    for chunk in text[:-2].split("\n\n"):
        event_line, data_line = chunk.split("\n")
        assert event_line.startswith("event: ") and data_line.startswith("data: ")
        data = json.loads(data_line[len("data: ") :])
        events.append((event_line[len("event: ") :], data))
    return events


def post_messages(fake: FakeAnthropic, body: dict, **kwargs) -> httpx.Response:
    return httpx.post(f"{fake.url}/v1/messages?beta=true", json=body, timeout=10, **kwargs)


# ----------------------------------------------------------------------------------------------------
# The real SDK against the fake
# ----------------------------------------------------------------------------------------------------


def test_sdk_create_non_streaming_default_and_reply_with(fake, client):
    message = client.messages.create(model=MODEL, max_tokens=100, messages=HI)
    assert message.id.startswith("msg_")
    assert message.model == MODEL
    assert [b.type for b in message.content] == ["text"]
    assert message.content[0].text == DEFAULT_REPLY
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens == len(fake.last_request().body) // 4
    assert message.usage.output_tokens > 0
    assert message.usage.cache_read_input_tokens == 0

    conversation = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "<system-reminder>x</system-reminder>"},
                {"type": "text", "text": "Please reply with: PONG 42"},
            ],
        },
    ]
    message = client.messages.create(model="claude-haiku-4-5-20251001", max_tokens=100, messages=conversation)
    assert message.content[0].text == "PONG 42"
    assert message.model == "claude-haiku-4-5-20251001"

    request = fake.last_request()
    assert request.method == "POST"
    assert request.path == "/v1/messages"
    # SDK 2.10 sends api_key as "Authorization: Bearer" and a newer anthropic-version; Claude Code sends
    # x-api-key and 2023-06-01. The fake records either as it came.
    credentials = (request.header("X-API-KEY"), request.header("authorization", "").removeprefix("Bearer "))
    assert "sk-ant-test" in credentials
    assert request.header("ANTHROPIC-VERSION")
    assert request.json()["messages"] == conversation


def test_sdk_stream_text_thinking_and_tool_use(fake, client):
    fake.enqueue(
        Scenario.stream(
            text="Let me check.",
            thinking=True,
            tool_use={"name": "Bash", "input": {"command": "echo hi", "description": "say hi"}},
            usage={"cache_read_input_tokens": 1234, "cache_creation_input_tokens": 56},
        )
    )
    texts, signatures = [], []
    with client.messages.stream(model=MODEL, max_tokens=100, messages=HI) as stream:
        for event in stream:
            if event.type == "text":
                texts.append(event.text)
            elif event.type == "signature":
                signatures.append(event.signature)
        final = stream.get_final_message()

    assert [b.type for b in final.content] == ["thinking", "text", "tool_use"]
    thinking, text, tool = final.content
    assert thinking.thinking and len(signatures) == 1 and thinking.signature == signatures[0]
    assert text.text == "Let me check." == "".join(texts)
    assert tool.name == "Bash" and tool.id.startswith("toolu_")
    assert tool.input == {"command": "echo hi", "description": "say hi"}
    assert final.stop_reason == "tool_use"
    assert final.usage.cache_read_input_tokens == 1234
    assert final.usage.cache_creation_input_tokens == 56
    assert final.usage.output_tokens > 1
    assert fake.pending() == 0


def test_thinking_follows_the_request(fake, client):
    with client.messages.stream(
        model="claude-haiku-4-5-20251001",
        max_tokens=2048,
        thinking={"type": "enabled", "budget_tokens": 1024},
        messages=[{"role": "user", "content": "reply with: ok"}],
    ) as stream:
        final = stream.get_final_message()
    assert [b.type for b in final.content] == ["thinking", "text"]
    assert final.content[0].signature
    assert final.content[1].text == "ok"

    # Claude Code's default: adaptive thinking.
    response = post_messages(fake, {**STREAM_BODY, "thinking": {"type": "adaptive"}})
    deltas = [d["delta"]["type"] for t, d in sse_events(response.text) if t == "content_block_delta"]
    assert "thinking_delta" in deltas and "signature_delta" in deltas and "text_delta" in deltas


def test_sdk_count_tokens_and_models(fake, client):
    count = client.messages.count_tokens(model=MODEL, messages=HI)
    assert count.input_tokens == len(fake.last_request().body) // 4
    assert fake.last_request().path == "/v1/messages/count_tokens"

    models = list(client.models.list())
    assert MODEL in [m.id for m in models]
    assert all(m.type == "model" and m.display_name for m in models)
    raw = httpx.get(f"{fake.url}/v1/models?limit=1000").json()
    assert raw["has_more"] is False
    assert raw["first_id"] == raw["data"][0]["id"] and raw["last_id"] == raw["data"][-1]["id"]
    assert client.models.retrieve(MODEL).id == MODEL


def test_sdk_raises_rate_limit_error(fake, client):
    fake.enqueue(Scenario.error(429, "rate_limit_error", "Slow down", headers={"x-should-retry": "false"}))
    with pytest.raises(anthropic.RateLimitError) as caught:
        client.messages.create(model=MODEL, max_tokens=10, messages=HI)
    error = caught.value
    assert error.status_code == 429
    assert error.response.headers["retry-after"] == "1"
    assert error.response.headers["x-should-retry"] == "false"
    assert error.body["type"] == "error"
    assert error.body["error"] == {"type": "rate_limit_error", "message": "Slow down"}
    assert error.body["request_id"] == error.response.headers["request-id"]
    assert error.request_id.startswith("req_")
    # One-shot: the next request gets the default answer.
    assert client.messages.create(model=MODEL, max_tokens=10, messages=HI).content[0].text == DEFAULT_REPLY


@pytest.mark.parametrize(
    ("status", "error_type", "exception"),
    [
        (400, "invalid_request_error", anthropic.BadRequestError),
        (401, "authentication_error", anthropic.AuthenticationError),
        (403, "permission_error", anthropic.PermissionDeniedError),
        (413, "request_too_large", anthropic.APIStatusError),
        (500, "api_error", anthropic.InternalServerError),
        (529, "overloaded_error", anthropic.OverloadedError),
    ],
)
def test_error_status_mapping(fake, client, status, error_type, exception):
    fake.enqueue(Scenario.error(status))
    with pytest.raises(exception) as caught:
        client.messages.create(model=MODEL, max_tokens=10, messages=HI)
    assert caught.value.status_code == status
    assert caught.value.body["error"]["type"] == error_type
    assert "retry-after" not in caught.value.response.headers


def test_sse_error_mid_stream(fake, client):
    fake.enqueue(Scenario.sse_error_mid_stream(after_events=4, error_type="overloaded_error"))
    with pytest.raises(anthropic.APIStatusError) as caught:
        with client.messages.stream(model=MODEL, max_tokens=10, messages=HI) as stream:
            stream.get_final_message()
    overloaded = {"type": "overloaded_error", "message": "Overloaded"}
    assert caught.value.body == {"type": "error", "error": overloaded}

    fake.enqueue(Scenario.sse_error_mid_stream(after_events=2, error_type="api_error", message="boom"))
    response = post_messages(fake, STREAM_BODY)
    events = sse_events(response.text)  # the body is complete: the stream ends after the error event
    assert [t for t, _ in events] == ["message_start", "content_block_start", "error"]
    assert events[-1][1] == {"type": "error", "error": {"type": "api_error", "message": "boom"}}

    # Claude Code retries an SSE error without streaming: that request gets the error as an HTTP status.
    fake.enqueue(Scenario.sse_error_mid_stream(after_events=2))
    response = post_messages(fake, PLAIN_BODY)
    assert response.status_code == 529
    assert response.json()["error"]["type"] == "overloaded_error"


def test_disconnect_mid_stream(fake):
    fake.enqueue(Scenario.disconnect_mid_stream(after_events=3))
    seen = b""
    with pytest.raises(httpx.RemoteProtocolError):
        with httpx.stream("POST", f"{fake.url}/v1/messages", json=STREAM_BODY) as r:
            for chunk in r.iter_raw():
                seen += chunk
    assert seen.count(b"event: ") == 3
    assert fake.last_request().finished.wait(2)

    fake.enqueue(Scenario.disconnect_mid_stream())
    with pytest.raises(httpx.RemoteProtocolError):
        post_messages(fake, PLAIN_BODY)

    # The server is still fine afterwards.
    assert post_messages(fake, PLAIN_BODY).status_code == 200


def test_plan_limit_headers(fake, client):
    reset = int(time.time()) + 3600
    fake.enqueue(Scenario.plan_limit(reset))
    with pytest.raises(anthropic.RateLimitError) as caught:
        client.messages.create(model=MODEL, max_tokens=10, messages=HI)
    headers = caught.value.response.headers
    assert headers["anthropic-ratelimit-unified-status"] == "rejected"
    assert headers["anthropic-ratelimit-unified-reset"] == str(reset)
    assert headers["anthropic-ratelimit-unified-representative-claim"] == "five_hour"
    assert headers["anthropic-ratelimit-unified-5h-status"] == "rejected"
    assert headers["anthropic-ratelimit-unified-5h-reset"] == str(reset)
    assert 3590 <= int(headers["retry-after"]) <= 3600
    # Replaced, not duplicated, over the default "allowed" headers.
    assert headers.get_list("anthropic-ratelimit-unified-status") == ["rejected"]


def test_success_headers_are_shaped_like_the_real_api(fake):
    response = post_messages(fake, STREAM_BODY)
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert response.headers["request-id"].startswith("req_")
    assert response.headers["anthropic-ratelimit-unified-status"] == "allowed"
    assert int(response.headers["anthropic-ratelimit-unified-reset"]) > time.time()
    assert 0 <= float(response.headers["anthropic-ratelimit-unified-5h-utilization"]) <= 1

    events = sse_events(response.text)
    types = [t for t, _ in events]
    assert types[0] == "message_start" and types[-2:] == ["message_delta", "message_stop"]
    assert "ping" in types
    assert all(data["type"] == t for t, data in events)
    start = events[0][1]["message"]
    assert start["role"] == "assistant" and start["content"] == [] and start["stop_reason"] is None
    assert set(start["usage"]) >= {
        "input_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
        "output_tokens",
    }
    delta = events[-2][1]
    assert delta["delta"] == {"stop_reason": "end_turn", "stop_sequence": None}
    assert set(delta["usage"]) == {
        "input_tokens",
        "cache_creation_input_tokens",
        "cache_read_input_tokens",
        "output_tokens",
    }

    plain = post_messages(fake, PLAIN_BODY)
    assert plain.headers["content-type"] == "application/json"
    assert plain.json()["type"] == "message"


def test_require_auth(fake):
    fake.require_auth = True
    response = post_messages(fake, PLAIN_BODY)
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "authentication_error"
    assert post_messages(fake, PLAIN_BODY, headers={"x-api-key": "k"}).status_code == 200
    bearer = {"Authorization": "Bearer sk-ant-oat01-x"}
    assert post_messages(fake, PLAIN_BODY, headers=bearer).status_code == 200
    assert fake.last_request().header("authorization") == "Bearer sk-ant-oat01-x"


def test_unknown_path_is_404_with_anthropic_body(fake):
    response = httpx.post(f"{fake.url}/v1/complete", json={})
    assert response.status_code == 404
    assert response.json()["type"] == "error"
    assert response.json()["error"]["type"] == "not_found_error"
    # Claude Code's start-up probe.
    assert httpx.head(f"{fake.url}/ak/somekey").status_code == 404
    assert [r.method for r in fake.received] == ["POST", "HEAD"]


def test_scenarios_are_fifo_per_route(fake, client):
    fake.enqueue(Scenario.error(529), Scenario.stream(text="second"))
    # A count_tokens or models call in between does not consume a messages scenario.
    client.messages.count_tokens(model=MODEL, messages=HI)
    list(client.models.list())
    with pytest.raises(anthropic.OverloadedError):
        client.messages.create(model=MODEL, max_tokens=10, messages=HI)
    assert client.messages.create(model=MODEL, max_tokens=10, messages=HI).content[0].text == "second"

    fake.enqueue(Scenario.error(500, route="count_tokens"))
    with pytest.raises(anthropic.InternalServerError):
        client.messages.count_tokens(model=MODEL, messages=HI)


def test_raw_scenario_and_default_scenario(fake):
    fake.enqueue(Scenario.raw(502, {"Content-Type": "text/html"}, b"<html>bad gateway</html>"))
    response = post_messages(fake, PLAIN_BODY)
    assert response.status_code == 502
    assert response.content == b"<html>bad gateway</html>"
    assert "request-id" not in response.headers

    fake.set_default(Scenario.stream(text="bench", text_events=1000))
    body = STREAM_BODY
    for _ in range(2):  # the default is not consumed
        events = sse_events(post_messages(fake, body).text)
        text = [d["delta"]["text"] for t, d in events if t == "content_block_delta"]
        assert len(text) == 1000
        assert "".join(text).startswith("bench bench")
    fake.set_default(None)
    assert post_messages(fake, PLAIN_BODY).json()["content"][0]["text"] == DEFAULT_REPLY


def test_split_text():
    assert split_text("Hello from fake", None) == ["Hello ", "from ", "fake"]
    assert split_text("abcdefghij", 3) == ["abcd", "efg", "hij"]
    pieces = split_text("hi", 10_000)
    assert len(pieces) == 10_000 and all(pieces)


# ----------------------------------------------------------------------------------------------------
# Bytes on the wire
# ----------------------------------------------------------------------------------------------------


def _raw_exchange(fake: FakeAnthropic, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", fake.port), timeout=5) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


def test_raw_body_bytes_and_headers_recorded_exactly(fake):
    # Not what json.dumps would produce: odd spacing, key order, escaped and raw non-ASCII.
    body = '{ "stream":false,"model" :"claude-opus-4-8", "messages":[{"role":"user","content":"h\\u00e9 ü"}]}'
    body_bytes = body.encode()
    request = (
        b"POST /v1/messages?beta=true HTTP/1.1\r\nHost: x\r\nX-Claude-Code-Session-Id: abc\r\n"
        b"anthropic-beta: a,b\r\nanthropic-beta: c\r\nConnection: close\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(body_bytes), body_bytes)
    )
    reply = _raw_exchange(fake, request)
    assert reply.startswith(b"HTTP/1.1 200 ")
    recorded = fake.last_request()
    assert recorded.body == body_bytes
    assert recorded.path == "/v1/messages?beta=true"
    assert recorded.route_path == "/v1/messages"
    expected = [("Host", "x"), ("X-Claude-Code-Session-Id", "abc"), ("anthropic-beta", "a,b")]
    assert recorded.headers[:3] == expected
    assert recorded.header("x-claude-code-session-id") == "abc"
    assert recorded.header_values("ANTHROPIC-BETA") == ["a,b", "c"]


def test_chunked_request_body_recorded_exactly(fake):
    messages = [{"role": "user", "content": "reply with: chunked ok"}]
    payload = json.dumps({"model": MODEL, "messages": messages}).encode()
    first, second = payload[:10], payload[10:]
    request = (
        b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        + b"%x;ext=1\r\n%s\r\n" % (len(first), first)
        + b"%x\r\n%s\r\n" % (len(second), second)
        + b"0\r\nX-Trailer: t\r\n\r\n"
    )
    reply = _raw_exchange(fake, request)
    assert fake.last_request().body == payload
    assert b'"text":"chunked ok"' in reply


def test_keep_alive_serves_several_requests_on_one_connection(fake):
    with httpx.Client(base_url=fake.url) as http:
        for _ in range(3):
            assert http.post("/v1/messages", json=STREAM_BODY).status_code == 200
    assert len(fake.received) == 3


def test_first_event_arrives_before_the_last(fake):
    fake.enqueue(Scenario.stream(text_events=8, event_delay=0.05))
    body = json.dumps(STREAM_BODY).encode()
    request = b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    with socket.create_connection(("127.0.0.1", fake.port), timeout=5) as sock:
        sent = time.monotonic()
        sock.sendall(request)
        received, first_at = b"", None
        while b"event: message_stop" not in received:
            chunk = sock.recv(65536)
            assert chunk
            received += chunk
            if first_at is None and b"event: message_start" in received:
                first_at = time.monotonic()
        last_at = time.monotonic()
    # 14 events with 50 ms between them: the first is on the wire long before the last.
    assert first_at - sent < 0.2
    assert last_at - first_at >= 0.5


def test_delay_before_headers(fake):
    fake.enqueue(Scenario.delay_before_headers(0.3))
    started = time.monotonic()
    response = post_messages(fake, PLAIN_BODY)
    assert time.monotonic() - started >= 0.3
    assert response.json()["content"][0]["text"] == DEFAULT_REPLY


def test_stop_is_quick_with_a_slow_stream_in_flight():
    fake = FakeAnthropic().start()
    fake.enqueue(Scenario.stream(text_events=100, event_delay=1.0))
    with httpx.stream("POST", f"{fake.url}/v1/messages", json=STREAM_BODY) as r:
        next(r.iter_raw())
        started = time.monotonic()
        fake.stop()
        assert time.monotonic() - started < 2


def test_standalone_entry_point():
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.fake_anthropic", "--port", "0", "--text", "standalone"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        url = line.strip().rsplit(" ", 1)[-1]
        assert url.startswith("http://127.0.0.1:")
        response = httpx.post(f"{url}/v1/messages", json=PLAIN_BODY, timeout=5)
        assert response.json()["content"][0]["text"] == "standalone"
    finally:
        process.terminate()
        assert process.wait(timeout=5) == 0


def test_answers_by_credential_follow_the_key_or_token_every_time():
    limited = Scenario.plan_limit(int(time.time()) + 3600)
    with FakeAnthropic(answers_by_credential={"-limited-": limited, "-busy-": Scenario.error(529)}) as fake:
        for _ in range(2):  # not consumed
            refused = post_messages(fake, PLAIN_BODY, headers={"x-api-key": "sk-ant-api03-limited-1"})
            assert refused.status_code == 429
            assert refused.headers["anthropic-ratelimit-unified-status"] == "rejected"
        busy = post_messages(fake, PLAIN_BODY, headers={"Authorization": "Bearer sk-ant-oat01-busy-2"})
        assert busy.status_code == 529 and busy.json()["error"]["type"] == "overloaded_error"
        plain = post_messages(fake, PLAIN_BODY, headers={"x-api-key": "sk-ant-api03-plan-3"})
        assert plain.json()["content"][0]["text"] == DEFAULT_REPLY
        fake.enqueue(Scenario.stream(text="scripted"))  # a queued answer still goes first
        scripted = post_messages(fake, PLAIN_BODY, headers={"x-api-key": "sk-ant-api03-limited-1"})
        assert scripted.json()["content"][0]["text"] == "scripted"


def test_standalone_answers_by_credential():
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.fake_anthropic", "--port", "0",
         "--answer-for-credential", "limited=plan-limited", "--answer-for-credential", "busy=529"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        url = process.stdout.readline().strip().rsplit(" ", 1)[-1]
        statuses = [httpx.post(f"{url}/v1/messages", json=PLAIN_BODY, headers={"x-api-key": key}, timeout=5)
                    .status_code for key in ("k-limited", "k-busy", "k-plan")]
        assert statuses == [429, 529, 200]
    finally:
        process.terminate()
        assert process.wait(timeout=5) == 0


def test_client_disconnect_is_noticed(fake):
    fake.enqueue(Scenario.stream(text_events=200, event_delay=0.01))
    with httpx.stream("POST", f"{fake.url}/v1/messages", json=STREAM_BODY) as response:
        next(response.iter_raw())
    request = fake.last_request()
    assert request.finished.wait(5)
    assert request.client_disconnected
