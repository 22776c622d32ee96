"""Bedrock's faults, reached the way developers reach Bedrock: the plan refuses with its limit, the gateway falls
back, and fake Bedrock (AWS's wire format, read by the real botocore) misbehaves. Each test asserts its
fault-matrix row (bedrock_rows.py)."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.integration.faults.harness import (
    Instance,
    ask,
    assert_open_until,
    breaker_of,
    error_type_seen,
    sse_events,
    usage_of,
)
from tests.integration.faults.matrix import check_client, row
from tests.support.fake_anthropic import Scenario
from tests.support.fake_bedrock import Scenario as BedrockScenario

PREFIX = "Overspill (Bedrock fallback): "


def fall_back(rig) -> tuple:  # noqa: ANN001
    """A developer whose plan refuses this request with its limit (reset in an hour): the request goes to Bedrock."""
    developer = rig.developer()
    reset = int(time.time()) + 3600
    rig.anthropic.enqueue(Scenario.plan_limit(reset))
    return developer, reset


def check_refusal(rig, response: httpx.Response, expected, developer, reset: int,  # noqa: ANN001
                  gateway=None) -> str:  # noqa: ANN001
    """The row's client view, the usage event, and the breaker still open for the plan limit; the message."""
    check_client(expected.client, response.status_code, response.headers, error_type_seen(response))
    assert response.headers["x-overspill-fallback-reason"] == "plan_limit"
    message = response.json()["error"]["message"]
    assert message.startswith(PREFIX)
    event = usage_of(gateway or rig.gateway, response)
    assert (event.route, event.status, event.error_type, event.fallback_reason) == (
        "bedrock", expected.client.status, expected.client.error_type, "plan_limit")
    assert (event.tokens.input_tokens, event.tokens.output_tokens) == (0, 0)
    assert event.bedrock_model_id == "us.anthropic.claude-opus-4-8"  # the Bedrock model that failed, for finance
    assert_open_until(breaker_of(developer), "plan_limit", reset, slack_s=0)
    return message


def test_bedrock_throttling(rig):
    developer, reset = fall_back(rig)
    rig.bedrock.enqueue(BedrockScenario.error("ThrottlingException", "Too many requests, please wait"))
    response = ask(developer.base_url(rig.gateway))
    message = check_refusal(rig, response, row("bedrock-throttling"), developer, reset)
    assert "throttling this gateway (ThrottlingException: Too many requests, please wait)" in message
    assert "raise the Bedrock quotas" in message


def test_bedrock_validation_error(rig):
    developer, reset = fall_back(rig)
    rig.bedrock.enqueue(BedrockScenario.error("ValidationException", "messages.0.content: must not be empty"))
    response = ask(developer.base_url(rig.gateway))
    message = check_refusal(rig, response, row("bedrock-validation-error"), developer, reset)
    assert message == PREFIX + "messages.0.content: must not be empty"
    assert len(rig.bedrock.received) == 1  # nothing to drop: no retry


def test_bedrock_access_denied(rig):
    developer, reset = fall_back(rig)
    rig.bedrock.enqueue(BedrockScenario.error(
        "AccessDeniedException", "User: arn:aws:sts::123456789012:assumed-role/overspill-proxy is not authorized"))
    response = ask(developer.base_url(rig.gateway))
    message = check_refusal(rig, response, row("bedrock-access-denied"), developer, reset)
    assert "(AccessDeniedException)" in message and "Ask your Overspill admin" in message
    assert "123456789012" not in response.text and "assumed-role" not in response.text


@pytest.mark.parametrize("code", ["ExpiredTokenException", "UnrecognizedClientException"])
def test_bedrock_expired_credentials(rig, code):
    developer, reset = fall_back(rig)
    rig.bedrock.enqueue(BedrockScenario.error(code))
    response = ask(developer.base_url(rig.gateway))
    message = check_refusal(rig, response, row("bedrock-expired-credentials"), developer, reset)
    assert f"({code})" in message and "Bedrock credentials" in message


def test_bedrock_timeout(rig):
    developer, reset = fall_back(rig)
    rig.bedrock.enqueue(BedrockScenario.delay_before_headers(3))
    with Instance(rig.gateway, upstream_read_timeout_s=0.5) as instance:
        started = time.monotonic()
        response = ask(developer.base_url(instance))
        assert time.monotonic() - started >= 0.5  # botocore's read timeout (the fake would answer at 3 s)
        message = check_refusal(rig, response, row("bedrock-timeout"), developer, reset, gateway=instance)
    assert "Bedrock did not answer in time" in message
    assert len(rig.bedrock.received) == 1  # one attempt: Claude Code does the retrying


def test_bedrock_no_gateway_credentials(rig, monkeypatch):
    developer, reset = fall_back(rig)
    with Instance(rig.gateway) as instance:
        # The instance's role client for Bedrock is made on its first fallback: by then no credential is left.
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
        monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/config")
        monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        response = ask(developer.base_url(instance))
        message = check_refusal(rig, response, row("bedrock-no-gateway-credentials"), developer, reset,
                                gateway=instance)
    assert "(NoCredentialsError)" in message
    assert rig.bedrock.received == []  # botocore failed before sending anything


def check_broken_stream(rig, response: httpx.Response, expected, developer, reset: int) -> dict:  # noqa: ANN001
    check_client(expected.client, response.status_code, response.headers, error_type_seen(response))
    events = sse_events(response.content)
    assert [e["type"] for e in events[:3]] == ["message_start", "content_block_start", "content_block_delta"]
    assert events[-1]["type"] == "error" and events[-1]["error"]["message"].startswith(PREFIX)
    event = usage_of(rig.gateway, response)
    assert (event.route, event.status, event.error_type, event.fallback_reason, event.client_disconnected) == (
        "bedrock", 200, "overloaded_error", "plan_limit", False)
    assert event.tokens.input_tokens == events[0]["message"]["usage"]["input_tokens"] > 0
    assert_open_until(breaker_of(developer), "plan_limit", reset, slack_s=0)
    return events[-1]["error"]


def test_bedrock_exception_mid_stream(rig):
    developer, reset = fall_back(rig)
    rig.bedrock.enqueue(BedrockScenario.exception_mid_stream(after_events=3,
                                                             exception_type="modelStreamErrorException"))
    response = ask(developer.base_url(rig.gateway))
    error = check_broken_stream(rig, response, row("bedrock-exception-mid-stream"), developer, reset)
    assert "(modelStreamErrorException: " in error["message"]


def test_bedrock_disconnect_mid_stream(rig):
    developer, reset = fall_back(rig)
    rig.bedrock.enqueue(BedrockScenario.disconnect_mid_stream(after_events=3))
    response = ask(developer.base_url(rig.gateway))
    error = check_broken_stream(rig, response, row("bedrock-disconnect-mid-stream"), developer, reset)
    assert "the stream from Bedrock broke" in error["message"]
