"""The fake Bedrock Runtime speaks the wire formats the real boto3/botocore client understands."""

from __future__ import annotations

import base64
import http.client
import json
import subprocess
import sys
import time
from pathlib import Path

import boto3
import botocore
import pytest
from botocore.config import Config
from botocore.eventstream import EventStreamBuffer
from botocore.exceptions import ClientError, EventStreamError, InvalidEndpointConfigurationError
from urllib3.exceptions import ProtocolError

from tests.support.fake_bedrock import (
    DEFAULT_REPLY,
    FakeBedrock,
    Scenario,
    bearer_token_client,
    chunk_frame,
    decode_event_stream,
    encode_event_stream_message,
    exception_frame,
    model_name_for,
)

REPO = Path(__file__).resolve().parents[2]
PROFILE_ID = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
BARE_ID = "anthropic.claude-haiku-4-5-20251001-v1:0"
AKID = "AKIAFAKEBEDROCK00001"
HI = [{"role": "user", "content": "hi"}]
NO_RETRIES = Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=10)


def bedrock_body(**fields) -> bytes:
    body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 256, "messages": HI, **fields}
    return json.dumps(body).encode()


def sigv4_client(fake: FakeBedrock, access_key: str = AKID, **kwargs):
    return boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=fake.url,
        aws_access_key_id=access_key,
        aws_secret_access_key="fake-secret",
        config=NO_RETRIES,
        **kwargs,
    )


def stream_events(response) -> list[dict]:
    return [json.loads(event["chunk"]["bytes"]) for event in response["body"]]


@pytest.fixture
def fake():
    with FakeBedrock() as server:
        yield server


@pytest.fixture
def client(fake):
    return sigv4_client(fake)


@pytest.fixture
def no_bearer_env(monkeypatch):
    """Bearer clients below must work without the process-wide variable botocore would read."""
    monkeypatch.delenv("AWS_BEARER_TOKEN_BEDROCK", raising=False)


# ----------------------------------------------------------------------------------------------------
# InvokeModel / InvokeModelWithResponseStream / CountTokens through boto3
# ----------------------------------------------------------------------------------------------------


def test_invoke_model_returns_the_anthropic_message(fake, client):
    body = bedrock_body(messages=[{"role": "user", "content": [{"type": "text", "text": "Please reply with: PONG 7"}]}])
    response = client.invoke_model(modelId=PROFILE_ID, body=body)
    message = json.loads(response["body"].read())
    assert message["id"].startswith("msg_bdrk_01")
    assert (message["type"], message["role"]) == ("message", "assistant")
    assert message["model"] == "claude-sonnet-4-5-20250929"
    assert message["content"] == [{"type": "text", "text": "PONG 7"}]
    assert (message["stop_reason"], message["stop_sequence"]) == ("end_turn", None)
    assert message["usage"]["input_tokens"] == len(body) // 4
    assert message["usage"]["output_tokens"] > 0
    assert response["contentType"] == "application/json"
    headers = response["ResponseMetadata"]["HTTPHeaders"]
    assert headers["x-amzn-bedrock-input-token-count"] == str(message["usage"]["input_tokens"])
    assert headers["x-amzn-bedrock-output-token-count"] == str(message["usage"]["output_tokens"])
    assert response["ResponseMetadata"]["RequestId"] == headers["x-amzn-requestid"]

    message = json.loads(client.invoke_model(modelId=PROFILE_ID, body=bedrock_body())["body"].read())
    assert message["content"][0]["text"] == DEFAULT_REPLY == "Hello from fake Bedrock"


def test_requests_are_recorded_exactly_with_raw_and_decoded_model_id(fake, client):
    body = (
        b'{"anthropic_version":"bedrock-2023-05-31","max_tokens":5,  "messages":[{"role":"user","content":"\\u00e9"}]}'
    )
    client.invoke_model(modelId=PROFILE_ID, body=body)
    request = fake.last_request()
    assert request.body == body  # byte-exact, spacing and escapes included
    assert request.json()["max_tokens"] == 5
    assert request.method == "POST"
    assert request.path == "/model/us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke"  # as botocore sends it
    assert request.decoded_path == f"/model/{PROFILE_ID}/invoke"
    assert request.model_id == PROFILE_ID
    assert request.operation == "invoke"
    assert (request.auth_scheme, request.credential) == ("sigv4", AKID)
    assert request.header("authorization").startswith(f"AWS4-HMAC-SHA256 Credential={AKID}/")
    assert "/us-east-1/bedrock/aws4_request" in request.header("Authorization")  # signing name is "bedrock"

    arn = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-opus-4-1-20250805-v1:0"
    client.invoke_model_with_response_stream(modelId=arn, body=body)["body"].close()
    request = fake.last_request()
    assert request.path.startswith("/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.")
    assert request.path.endswith("/invoke-with-response-stream")
    assert (request.model_id, request.operation) == (arn, "invoke-with-response-stream")
    assert fake.requests_for("invoke") == [fake.received[0]]
    assert fake.requests_for(model_id=arn) == [request]


def test_stream_thinking_text_tool_use_and_invocation_metrics(fake, client):
    fake.enqueue(Scenario.stream("Done.", tool_use={"name": "Bash", "input": {"command": "ls -la"}}))
    body = bedrock_body(thinking={"type": "enabled", "budget_tokens": 1024})
    response = client.invoke_model_with_response_stream(modelId=PROFILE_ID, body=body)
    assert response["contentType"] == "application/json"  # X-Amzn-Bedrock-Content-Type
    assert response["ResponseMetadata"]["HTTPHeaders"]["content-type"] == "application/vnd.amazon.eventstream"
    events = stream_events(response)

    types = [e["type"] for e in events]
    assert types[0] == "message_start" and types[-2:] == ["message_delta", "message_stop"]
    assert events[0]["message"]["model"] == "claude-sonnet-4-5-20250929"
    assert events[0]["message"]["id"].startswith("msg_bdrk_")
    starts = [e["content_block"]["type"] for e in events if e["type"] == "content_block_start"]
    assert starts == ["thinking", "text", "tool_use"]
    deltas = [e["delta"] for e in events if e["type"] == "content_block_delta"]
    assert "".join(d["thinking"] for d in deltas if d["type"] == "thinking_delta")
    assert [d["type"] for d in deltas].count("signature_delta") == 1
    assert "".join(d["text"] for d in deltas if d["type"] == "text_delta") == "Done."
    partial = "".join(d["partial_json"] for d in deltas if d["type"] == "input_json_delta")
    assert json.loads(partial) == {"command": "ls -la"}
    assert events[-2]["delta"]["stop_reason"] == "tool_use"

    usage = events[0]["message"]["usage"]
    metrics = events[-1]["amazon-bedrock-invocationMetrics"]
    assert metrics["inputTokenCount"] == usage["input_tokens"] == len(body) // 4
    assert metrics["outputTokenCount"] == events[-2]["usage"]["output_tokens"]
    assert set(metrics) == {
        "inputTokenCount",
        "outputTokenCount",
        "invocationLatency",
        "firstByteLatency",
        "cacheReadInputTokenCount",
        "cacheWriteInputTokenCount",
    }

    # No thinking asked for, none sent; the same scenario answers InvokeModel as JSON.
    fake.enqueue(Scenario.stream(usage={"cache_read_input_tokens": 900, "input_tokens": 3}))
    events = stream_events(client.invoke_model_with_response_stream(modelId=PROFILE_ID, body=bedrock_body()))
    assert [e["content_block"]["type"] for e in events if e["type"] == "content_block_start"] == ["text"]
    assert events[-1]["amazon-bedrock-invocationMetrics"]["cacheReadInputTokenCount"] == 900
    fake.enqueue(Scenario.stream("x", thinking=True))
    message = json.loads(client.invoke_model(modelId=PROFILE_ID, body=bedrock_body())["body"].read())
    assert [b["type"] for b in message["content"]] == ["thinking", "text"]
    assert message["content"][0]["signature"]


def test_adaptive_thinking_and_text_events(fake, client):
    fake.enqueue(Scenario.stream("abcdefghij", text_events=5))
    body = bedrock_body(thinking={"type": "adaptive"})
    events = stream_events(client.invoke_model_with_response_stream(modelId=PROFILE_ID, body=body))
    texts = [e["delta"]["text"] for e in events if e.get("delta", {}).get("type") == "text_delta"]
    assert texts == ["ab", "cd", "ef", "gh", "ij"]
    assert any(e.get("content_block", {}).get("type") == "thinking" for e in events)


def test_count_tokens(fake, client):
    inner = bedrock_body()
    response = client.count_tokens(modelId=BARE_ID, input={"invokeModel": {"body": inner}})
    assert response["inputTokens"] == len(inner) // 4
    request = fake.last_request()
    assert request.path == "/model/anthropic.claude-haiku-4-5-20251001-v1%3A0/count-tokens"
    # The blob goes over the wire base64-encoded inside the JSON.
    assert request.json() == {"input": {"invokeModel": {"body": base64.b64encode(inner).decode()}}}
    assert request.invoke_body() == inner

    # Default: any id is counted; the scenario (or a default) rejects inference profiles like the service.
    assert client.count_tokens(modelId=PROFILE_ID, input={"invokeModel": {"body": inner}})["inputTokens"] > 0
    fake.enqueue(Scenario.count_tokens())
    with pytest.raises(client.exceptions.ValidationException) as raised:
        client.count_tokens(modelId=PROFILE_ID, input={"invokeModel": {"body": inner}})
    assert raised.value.response["Error"]["Message"] == "The provided model doesn't support counting tokens."
    fake.set_default(Scenario.count_tokens(42))
    assert client.count_tokens(modelId=BARE_ID, input={"invokeModel": {"body": inner}})["inputTokens"] == 42
    for profile in ("global.anthropic.claude-sonnet-4-5-20250929-v1:0", "eu.anthropic.claude-opus-4-6-v1"):
        with pytest.raises(client.exceptions.ValidationException):
            client.count_tokens(modelId=profile, input={"invokeModel": {"body": inner}})
    fake.set_default(None, route="count-tokens")
    converse = {"converse": {"messages": [{"role": "user", "content": [{"text": "hi"}]}]}}
    assert client.count_tokens(modelId=BARE_ID, input=converse)["inputTokens"] > 0


def test_scenarios_are_fifo_per_route_and_clear(fake, client):
    fake.enqueue(Scenario.count_tokens(7), Scenario.stream("one"), Scenario.stream("two"))
    read = lambda: json.loads(client.invoke_model(modelId=PROFILE_ID, body=bedrock_body())["body"].read())  # noqa: E731
    assert read()["content"][0]["text"] == "one"
    assert client.count_tokens(modelId=BARE_ID, input={"invokeModel": {"body": bedrock_body()}})["inputTokens"] == 7
    assert fake.pending() == 1
    fake.clear()
    assert fake.pending() == 0 and fake.received == []
    fake.set_default(Scenario.stream("default"))
    assert read()["content"][0]["text"] == "default"
    assert read()["content"][0]["text"] == "default"
    fake.set_default(None)
    assert read()["content"][0]["text"] == DEFAULT_REPLY
    assert len(fake.wait_for_requests(3)) == 3
    with pytest.raises(AssertionError):
        fake.wait_for_requests(4, timeout=0.05)


# ----------------------------------------------------------------------------------------------------
# Errors
# ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "status", "modelled"),
    [
        ("ThrottlingException", 429, True),
        ("ValidationException", 400, True),
        ("AccessDeniedException", 403, True),
        ("ResourceNotFoundException", 404, True),
        ("ServiceUnavailableException", 503, True),
        ("ModelTimeoutException", 408, True),
        ("InternalServerException", 500, True),
        ("ModelErrorException", 424, True),
        ("ServiceQuotaExceededException", 400, True),
        ("UnrecognizedClientException", 403, False),
        ("ExpiredTokenException", 403, False),
    ],
)
def test_http_errors_map_to_boto3_exceptions(fake, client, code, status, modelled):
    fake.enqueue(Scenario.error(code, "it went wrong"))
    with pytest.raises(ClientError) as raised:
        client.invoke_model(modelId=PROFILE_ID, body=bedrock_body())
    error = raised.value.response
    assert error["Error"] == {"Code": code, "Message": "it went wrong"}
    assert error["ResponseMetadata"]["HTTPStatusCode"] == status
    assert error["ResponseMetadata"]["HTTPHeaders"]["x-amzn-errortype"].startswith(f"{code}:http://")
    if modelled:
        assert type(raised.value) is getattr(client.exceptions, code)
    else:
        assert type(raised.value) is ClientError

    # The streaming operation fails the same way before its stream starts.
    fake.enqueue(Scenario.error(code))
    with pytest.raises(ClientError) as raised:
        client.invoke_model_with_response_stream(modelId=PROFILE_ID, body=bedrock_body())
    assert raised.value.response["Error"]["Code"] == code
    assert raised.value.response["Error"]["Message"]  # a default message per code


def test_error_status_override_and_short_code(fake, client):
    fake.enqueue(Scenario.error("Throttling", "Too many tokens, please wait before trying again.", status=400))
    with pytest.raises(client.exceptions.ThrottlingException) as raised:
        client.invoke_model(modelId=PROFILE_ID, body=bedrock_body())
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert raised.value.response["Error"]["Message"] == "Too many tokens, please wait before trying again."


def test_body_validation_like_the_service(fake, client):
    with pytest.raises(client.exceptions.ValidationException) as raised:
        client.invoke_model(modelId=PROFILE_ID, body=json.dumps({"max_tokens": 5, "messages": HI}))
    assert "required key [anthropic_version] not found" in raised.value.response["Error"]["Message"]
    for field in ("model", "stream"):
        with pytest.raises(client.exceptions.ValidationException) as raised:
            client.invoke_model(modelId=PROFILE_ID, body=bedrock_body(**{field: "x"}))
        assert raised.value.response["Error"]["Message"] == f"{field}: Extra inputs are not permitted"
    with FakeBedrock(validate_body=False) as lax:
        response = sigv4_client(lax).invoke_model(modelId=PROFILE_ID, body=json.dumps({"model": "m", "messages": HI}))
        assert json.loads(response["body"].read())["content"][0]["text"] == DEFAULT_REPLY


def test_reject_beta_only_when_the_body_carries_it(fake, client):
    beta = "interleaved-thinking-2025-05-14"
    fake.enqueue(Scenario.reject_beta(beta))
    with pytest.raises(client.exceptions.ValidationException) as raised:
        client.invoke_model_with_response_stream(
            modelId=PROFILE_ID, body=bedrock_body(anthropic_beta=["context-1m-2025-08-07", beta])
        )
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert raised.value.response["Error"]["Message"] == f"invalid beta flag: {beta}"
    # The gateway removes the beta and retries: the normal answer.
    events = stream_events(
        client.invoke_model_with_response_stream(
            modelId=PROFILE_ID, body=bedrock_body(anthropic_beta=["context-1m-2025-08-07"])
        )
    )
    assert events[-1]["type"] == "message_stop"

    # A one-shot reject met by a request without the beta answers normally (and is used up).
    fake.enqueue(Scenario.reject_beta(beta, then=Scenario.stream("fine")))
    message = json.loads(client.invoke_model(modelId=PROFILE_ID, body=bedrock_body())["body"].read())
    assert message["content"][0]["text"] == "fine"
    assert fake.pending() == 0

    # As a default it rejects every request carrying the beta.
    fake.set_default(Scenario.reject_beta(beta))
    for _ in range(2):
        with pytest.raises(client.exceptions.ValidationException):
            client.invoke_model(modelId=PROFILE_ID, body=bedrock_body(anthropic_beta=[beta]))
    client.invoke_model(modelId=PROFILE_ID, body=bedrock_body(anthropic_beta=[]))


def test_reject_field_only_when_the_body_has_it(fake, client):
    fake.enqueue(Scenario.reject_field("context_management"))
    with pytest.raises(client.exceptions.ValidationException) as raised:
        client.invoke_model(modelId=PROFILE_ID, body=bedrock_body(context_management={"edits": []}))
    assert raised.value.response["Error"]["Message"] == "context_management: Extra inputs are not permitted"
    client.invoke_model(modelId=PROFILE_ID, body=bedrock_body())  # retried without it: fine

    fake.enqueue(Scenario.reject_field("output_config.effort"), Scenario.reject_field("output_config.effort"))
    with pytest.raises(client.exceptions.ValidationException) as raised:
        client.invoke_model(modelId=PROFILE_ID, body=bedrock_body(output_config={"effort": "high"}))
    assert raised.value.response["Error"]["Message"] == "output_config.effort: Extra inputs are not permitted"
    client.invoke_model(modelId=PROFILE_ID, body=bedrock_body(output_config={"format": None}))


@pytest.mark.parametrize(
    "exception_type",
    [
        "throttlingException",
        "modelStreamErrorException",
        "serviceUnavailableException",
        "validationException",
        "internalServerException",
        "modelTimeoutException",
    ],
)
def test_exception_mid_stream_raises_event_stream_error(fake, client, exception_type):
    fake.enqueue(Scenario.exception_mid_stream(after_events=3, exception_type=exception_type, message="boom"))
    response = client.invoke_model_with_response_stream(modelId=PROFILE_ID, body=bedrock_body())
    received = []
    with pytest.raises(EventStreamError) as raised:
        for event in response["body"]:
            received.append(json.loads(event["chunk"]["bytes"])["type"])
    assert received == ["message_start", "content_block_start", "content_block_delta"]
    assert raised.value.response["Error"] == {"Code": exception_type, "Message": "boom"}
    assert isinstance(raised.value, ClientError)


def test_exception_mid_stream_on_invoke_model_is_an_http_error(fake, client):
    fake.enqueue(Scenario.exception_mid_stream(exception_type="ServiceUnavailableException"))
    with pytest.raises(client.exceptions.ServiceUnavailableException) as raised:
        client.invoke_model(modelId=PROFILE_ID, body=bedrock_body())
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503


def test_disconnect_mid_stream(fake, client):
    fake.enqueue(Scenario.disconnect_mid_stream(after_events=2))
    response = client.invoke_model_with_response_stream(modelId=PROFILE_ID, body=bedrock_body())
    received = []
    # botocore does not wrap this one: urllib3's ProtocolError comes out of the event iterator.
    with pytest.raises(ProtocolError):
        for event in response["body"]:
            received.append(json.loads(event["chunk"]["bytes"])["type"])
    assert received == ["message_start", "content_block_start"]

    fake.enqueue(Scenario.disconnect_mid_stream())
    response = client.invoke_model(modelId=PROFILE_ID, body=bedrock_body())
    with pytest.raises(botocore.exceptions.ResponseStreamingError):
        response["body"].read()


# ----------------------------------------------------------------------------------------------------
# Credentials
# ----------------------------------------------------------------------------------------------------


def test_require_auth_with_access_keys():
    with FakeBedrock(valid_access_keys={AKID}, expired_access_keys={"ASIAEXPIRED000000001"}) as fake:
        sigv4_client(fake).invoke_model(modelId=PROFILE_ID, body=bedrock_body())
        assert fake.last_request().credential == AKID

        with pytest.raises(ClientError) as raised:
            sigv4_client(fake, "AKIAUNKNOWN000000000").invoke_model(modelId=PROFILE_ID, body=bedrock_body())
        assert raised.value.response["Error"] == {
            "Code": "UnrecognizedClientException",
            "Message": "The security token included in the request is invalid.",
        }
        assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        assert fake.last_request().credential == "AKIAUNKNOWN000000000"

        with pytest.raises(ClientError) as raised:
            sigv4_client(fake, "ASIAEXPIRED000000001").invoke_model(modelId=PROFILE_ID, body=bedrock_body())
        assert raised.value.response["Error"]["Code"] == "ExpiredTokenException"

        unsigned = boto3.client(
            "bedrock-runtime",
            region_name="us-east-1",
            endpoint_url=fake.url,
            config=NO_RETRIES.merge(Config(signature_version=botocore.UNSIGNED)),
        )
        with pytest.raises(ClientError) as raised:
            unsigned.invoke_model(modelId=PROFILE_ID, body=bedrock_body())
        assert raised.value.response["Error"]["Code"] == "MissingAuthenticationTokenException"
        assert fake.last_request().credential is None


def test_bearer_token_client_without_process_env(no_bearer_env):
    with FakeBedrock(tls=True, valid_bearer_tokens={"ABSK-good"}, valid_access_keys={AKID}) as fake:
        assert fake.url.startswith("https://127.0.0.1:")
        client = bearer_token_client("ABSK-good", fake.url, verify=fake.ca_bundle, config=NO_RETRIES)
        message = json.loads(client.invoke_model(modelId=PROFILE_ID, body=bedrock_body())["body"].read())
        assert message["content"][0]["text"] == DEFAULT_REPLY
        request = fake.last_request()
        assert request.header("Authorization") == "Bearer ABSK-good"
        assert request.header("X-Amz-Date") is None  # not SigV4-signed
        assert (request.auth_scheme, request.credential) == ("bearer", "ABSK-good")

        events = stream_events(client.invoke_model_with_response_stream(modelId=PROFILE_ID, body=bedrock_body()))
        assert events[-1]["type"] == "message_stop"

        # Two clients, two tokens, one process: nothing global.
        other = bearer_token_client("ABSK-bad", fake.url, verify=fake.ca_bundle, config=NO_RETRIES)
        with pytest.raises(ClientError) as raised:
            other.invoke_model(modelId=PROFILE_ID, body=bedrock_body())
        assert raised.value.response["Error"]["Code"] == "UnrecognizedClientException"
        assert fake.last_request().credential == "ABSK-bad"
        client.invoke_model(modelId=PROFILE_ID, body=bedrock_body())
        assert fake.last_request().credential == "ABSK-good"

        # SigV4 clients still work against the same fake over TLS.
        sigv4_client(fake, verify=fake.ca_bundle).invoke_model(modelId=PROFILE_ID, body=bedrock_body())
        assert fake.last_request().auth_scheme == "sigv4"


def test_botocore_sends_bearer_tokens_over_https_only(fake, no_bearer_env):
    client = bearer_token_client("ABSK-x", fake.url, config=NO_RETRIES)
    with pytest.raises(InvalidEndpointConfigurationError):
        client.invoke_model(modelId=PROFILE_ID, body=bedrock_body())
    assert fake.received == []


# ----------------------------------------------------------------------------------------------------
# Timing and transport
# ----------------------------------------------------------------------------------------------------


def test_first_event_arrives_before_the_last(fake, client):
    fake.enqueue(Scenario.stream(text_events=8, event_delay=0.05))
    sent = time.monotonic()
    response = client.invoke_model_with_response_stream(modelId=PROFILE_ID, body=bedrock_body())
    arrivals = [(time.monotonic(), json.loads(event["chunk"]["bytes"])) for event in response["body"]]
    (first_at, first), (last_at, last) = arrivals[0], arrivals[-1]
    assert (first["type"], last["type"]) == ("message_start", "message_stop")
    # 13 frames with 50 ms between them: the first is decoded long before the last is written.
    assert first_at - sent < 0.3
    assert last_at - first_at >= 0.5
    metrics = last["amazon-bedrock-invocationMetrics"]
    assert metrics["invocationLatency"] >= metrics["firstByteLatency"] >= 0
    assert metrics["invocationLatency"] >= 500


def test_delay_before_headers(fake, client):
    fake.enqueue(Scenario.delay_before_headers(0.3))
    started = time.monotonic()
    message = json.loads(client.invoke_model(modelId=PROFILE_ID, body=bedrock_body())["body"].read())
    assert time.monotonic() - started >= 0.3
    assert message["content"][0]["text"] == DEFAULT_REPLY


def test_raw_frames_on_the_wire(fake):
    body = bedrock_body()
    conn = http.client.HTTPConnection("127.0.0.1", fake.port, timeout=5)
    conn.request("POST", "/model/m/invoke-with-response-stream", body=body)
    response = conn.getresponse()
    assert response.status == 200
    assert response.getheader("Transfer-Encoding") == "chunked"
    frames = decode_event_stream(response.read())
    conn.close()
    for headers, payload in frames:
        assert headers == {":event-type": "chunk", ":content-type": "application/json", ":message-type": "event"}
        chunk = json.loads(payload)
        assert set(chunk) == {"bytes", "p"}  # the service pads chunks; clients ignore "p"
    assert json.loads(base64.b64decode(json.loads(frames[-1][1])["bytes"]))["type"] == "message_stop"


def test_unknown_path_is_404_unknown_operation(fake):
    conn = http.client.HTTPConnection("127.0.0.1", fake.port, timeout=5)
    conn.request("GET", "/foundation-models")
    response = conn.getresponse()
    assert response.status == 404
    assert response.getheader("x-amzn-ErrorType").startswith("UnknownOperationException:")
    assert "message" in json.loads(response.read())
    conn.close()


def test_event_stream_encoding_decodes_with_botocore():
    frames = (
        chunk_frame({"type": "ping"})
        + encode_event_stream_message([(":message-type", "event"), (":event-type", "x")], b"")
        + exception_frame("ThrottlingException", "slow down")
    )
    buffer = EventStreamBuffer()
    buffer.add_data(frames)
    messages = list(buffer)
    assert json.loads(base64.b64decode(json.loads(messages[0].payload)["bytes"])) == {"type": "ping"}
    assert messages[1].headers == {":message-type": "event", ":event-type": "x"} and messages[1].payload == b""
    assert messages[2].headers[":exception-type"] == "throttlingException"
    assert messages[2].to_response_dict()["status_code"] == 400
    assert json.loads(messages[2].payload) == {"message": "slow down"}


def test_model_name_for():
    assert model_name_for(PROFILE_ID) == "claude-sonnet-4-5-20250929"
    assert model_name_for("global.anthropic.claude-opus-4-6-v1") == "claude-opus-4-6"
    assert model_name_for("eu.anthropic.claude-sonnet-4-6") == "claude-sonnet-4-6"
    assert model_name_for("arn:aws:bedrock:us-east-1:1:inference-profile/us.anthropic.claude-opus-4-7") == (
        "claude-opus-4-7"
    )
    assert model_name_for("meta.llama3") == "claude-sonnet-4-5-20250929"


def test_stop_is_quick_with_a_slow_stream_in_flight():
    fake = FakeBedrock().start()
    fake.enqueue(Scenario.stream(text_events=100, event_delay=1.0))
    response = sigv4_client(fake).invoke_model_with_response_stream(modelId=PROFILE_ID, body=bedrock_body())
    events = iter(response["body"])
    next(events)
    started = time.monotonic()
    fake.stop()
    assert time.monotonic() - started < 2
    with pytest.raises(ProtocolError):
        list(events)


def test_standalone_entry_point():
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.support.fake_bedrock", "--port", "0", "--text", "standalone"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline().strip()
        assert line.startswith("fake-bedrock listening on http://127.0.0.1:")
        url = line.rsplit(" ", 1)[-1]
        client = boto3.client(
            "bedrock-runtime",
            region_name="us-east-1",
            endpoint_url=url,
            aws_access_key_id=AKID,
            aws_secret_access_key="x",
            config=NO_RETRIES,
        )
        message = json.loads(client.invoke_model(modelId=PROFILE_ID, body=bedrock_body())["body"].read())
        assert message["content"][0]["text"] == "standalone"
    finally:
        process.terminate()
        assert process.wait(timeout=5) == 0
