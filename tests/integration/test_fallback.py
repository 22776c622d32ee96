"""The Bedrock fallback through the real proxy: plan (fake Anthropic) → Bedrock (fake, AWS event-stream),
the breaker in DynamoDB (moto), and what the developer's client sees."""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import anthropic as anthropic_sdk
import httpx
import pytest

from overspill.breaker import BreakerState
from overspill.store.breakers import BreakerRepository
from overspill.users import RoutingMode
from tests.support.emf import emf_records
from tests.support.fake_anthropic import Scenario
from tests.support.fake_bedrock import Scenario as BedrockScenario
from tests.support.gateway import LocalGateway, wait_for_usage

BETAS = ("claude-code-20250219,oauth-2025-04-20,interleaved-thinking-2025-05-14,context-management-2025-06-27,"
         "fine-grained-tool-streaming-2025-05-14")


def ask(developer, gateway, *, stream=True, model="claude-opus-4-8", text="hi", **extra) -> httpx.Response:
    body = {"model": model, "max_tokens": 100, "messages": [{"role": "user", "content": text}], **extra}
    if stream:
        body["stream"] = True
    return httpx.post(developer.base_url(gateway) + "/v1/messages?beta=true", json=body, timeout=30,
                      headers={"x-api-key": "sk-ant-api03-dev", "anthropic-version": "2023-06-01",
                               "anthropic-beta": BETAS, "x-claude-code-session-id": "sess-9"})


def sse_events(text: str) -> list[dict]:
    return [json.loads(block.split("data: ", 1)[1]) for block in text.strip().split("\n\n") if "data: " in block]


def breaker_after(gateway, response: httpx.Response, user_id: str):
    """The breaker once this response's after-response work (its breaker write, then its usage) is done."""
    wait_for_usage(gateway, response.headers["x-overspill-request-id"])
    return BreakerRepository().get(user_id, consistent=True)


def plan_limit_until(seconds: float) -> Scenario:
    return Scenario.plan_limit(int(time.time() + seconds))


def test_plan_limit_falls_back_and_opens_the_breaker_until_reset(gateway, developer, anthropic, bedrock):
    reset = int(time.time() + 3600)
    anthropic.enqueue(Scenario.plan_limit(reset))
    response = ask(developer, gateway, text="reply with: from bedrock")

    assert response.status_code == 200
    assert response.headers["x-overspill-route"] == "bedrock"
    assert response.headers["x-overspill-fallback-reason"] == "plan_limit"
    events = sse_events(response.text)
    assert events[0]["type"] == "message_start" and events[0]["message"]["model"] == "claude-opus-4-8"
    assert events[-1] == {"type": "message_stop"}  # Bedrock's invocation metrics removed
    assert "".join(e["delta"].get("text", "") for e in events if e["type"] == "content_block_delta") == \
        "from bedrock"

    sent = bedrock.last_request()
    assert sent.model_id == "us.anthropic.claude-opus-4-8"
    assert sent.operation == "invoke-with-response-stream"
    body = sent.json()
    assert "model" not in body and "stream" not in body
    assert body["anthropic_version"] == "bedrock-2023-05-31"
    assert "claude-code-20250219" not in body["anthropic_beta"] and "oauth-2025-04-20" not in body["anthropic_beta"]
    assert "interleaved-thinking-2025-05-14" in body["anthropic_beta"]
    assert body["messages"] == [{"role": "user", "content": "reply with: from bedrock"}]

    breaker = breaker_after(gateway, response, developer.user_id)
    assert breaker.state is BreakerState.OPEN and breaker.reason == "plan_limit"
    assert int(breaker.open_until.timestamp()) == reset

    anthropic.clear()
    again = ask(developer, gateway)
    assert again.headers["x-overspill-route"] == "bedrock"
    assert again.headers["x-overspill-fallback-reason"] == "breaker_open"
    assert anthropic.received == []  # the plan is left alone until the reset

    event = wait_for_usage(gateway, response.headers["x-overspill-request-id"])
    assert (event.route, event.fallback_reason, event.bedrock_model_id) == (
        "bedrock", "plan_limit", "us.anthropic.claude-opus-4-8")
    assert event.tokens.input_tokens > 0 and event.tokens.output_tokens > 0 and event.status == 200


def test_after_the_reset_exactly_one_probe_goes_to_the_plan(gateway, developer, anthropic, bedrock):
    anthropic.enqueue(plan_limit_until(2))
    assert ask(developer, gateway).headers["x-overspill-route"] == "bedrock"
    time.sleep(2.2)
    anthropic.clear()
    # The plan takes 1.5 s to answer the probe, so every other request decides while the probe is still out
    # (once the probe's answer starts, the breaker closes and later requests rightly go to the plan).
    anthropic.set_default(Scenario.stream(text="plan is back", delay=1.5))
    barrier = threading.Barrier(6)

    def together(_: int) -> httpx.Response:
        barrier.wait()
        return ask(developer, gateway)

    try:
        with ThreadPoolExecutor(6) as pool:
            answers = list(pool.map(together, range(6)))
    finally:
        anthropic.set_default(None)
    assert [a.status_code for a in answers] == [200] * 6
    assert len([r for r in anthropic.received if r.route_path == "/v1/messages"]) == 1
    assert sorted(a.headers["x-overspill-route"] for a in answers).count("plan") == 1
    probe = next(a for a in answers if a.headers["x-overspill-route"] == "plan")
    assert breaker_after(gateway, probe, developer.user_id).state is BreakerState.CLOSED
    assert ask(developer, gateway).headers["x-overspill-route"] == "plan"


def test_a_failed_probe_reopens(gateway, developer, anthropic):
    anthropic.enqueue(plan_limit_until(1))
    ask(developer, gateway)
    time.sleep(1.2)
    anthropic.enqueue(plan_limit_until(3600))
    probe = ask(developer, gateway)
    assert probe.headers["x-overspill-route"] == "bedrock" and probe.status_code == 200
    breaker = breaker_after(gateway, probe, developer.user_id)
    assert breaker.state is BreakerState.OPEN and breaker.open_until.timestamp() > time.time() + 3000


def test_throttle_without_plan_headers_falls_back_briefly(gateway, developer, anthropic):
    anthropic.enqueue(Scenario.error(429, "rate_limit_error", "slow down", retry_after=3))
    response = ask(developer, gateway)
    assert (response.status_code, response.headers["x-overspill-fallback-reason"]) == (200, "throttle")
    breaker = breaker_after(gateway, response, developer.user_id)
    assert breaker.state is BreakerState.OPEN and breaker.open_until.timestamp() < time.time() + 4


@pytest.mark.parametrize(("status", "error_type", "reason"), [
    (529, "overloaded_error", "overloaded"), (500, "api_error", "server_error"), (503, "api_error", "server_error"),
])
def test_overload_and_server_errors_fall_back_and_repeated_ones_open(gateway, developer, anthropic, status,
                                                                     error_type, reason):
    for attempt in range(3):
        anthropic.enqueue(Scenario.error(status, error_type, "trouble"))
        response = ask(developer, gateway, stream=False)
        assert response.status_code == 200 and response.json()["type"] == "message"
        assert response.headers["x-overspill-fallback-reason"] == reason
        state = breaker_after(gateway, response, developer.user_id).state
        assert state is (BreakerState.OPEN if attempt == 2 else BreakerState.CLOSED)


def test_unreachable_plan_falls_back(anthropic, bedrock):
    with LocalGateway("http://127.0.0.1:9", bedrock.url, upstream_connect_timeout_s=1.0) as gateway:
        developer = gateway.add_developer()
        response = ask(developer, gateway)
        assert response.status_code == 200
        assert response.headers["x-overspill-fallback-reason"] == "unreachable"


def test_a_stream_that_does_not_start_in_time_falls_back(anthropic, bedrock):
    with LocalGateway(anthropic.url, bedrock.url, plan_first_byte_timeout_s=0.5) as gateway:
        developer = gateway.add_developer()
        anthropic.enqueue(Scenario.delay_before_headers(3))
        started = time.monotonic()
        response = ask(developer, gateway)
        assert response.headers["x-overspill-fallback-reason"] == "timeout"
        assert time.monotonic() - started < 2.5


def test_a_slow_but_started_stream_is_not_cut_by_the_first_byte_timeout(anthropic, bedrock):
    with LocalGateway(anthropic.url, bedrock.url, plan_first_byte_timeout_s=0.3) as gateway:
        developer = gateway.add_developer()
        anthropic.enqueue(Scenario.stream(text_events=4, event_delay=0.6))
        response = ask(developer, gateway)
        assert response.headers["x-overspill-route"] == "plan"
        assert sse_events(response.text)[-1]["type"] == "message_stop"


@pytest.mark.parametrize(("status", "error_type"), [
    (400, "invalid_request_error"), (401, "authentication_error"), (403, "permission_error"),
    (404, "not_found_error"), (413, "request_too_large"),
])
def test_client_errors_pass_through_and_never_trip_the_breaker(gateway, developer, anthropic, bedrock, status,
                                                                error_type):
    anthropic.enqueue(Scenario.error(status, error_type, "exact wording Claude Code matches on"))
    response = ask(developer, gateway)
    assert response.status_code == status
    assert response.json()["error"] == {"type": error_type, "message": "exact wording Claude Code matches on"}
    assert response.headers["x-overspill-route"] == "plan"
    assert bedrock.received == []
    assert breaker_after(gateway, response, developer.user_id).state is BreakerState.CLOSED


def test_bedrock_only_users_never_touch_the_plan(gateway, anthropic, bedrock):
    developer = gateway.add_developer("Bo", routing_mode=RoutingMode.BEDROCK_ONLY)
    response = ask(developer, gateway)
    assert response.headers["x-overspill-fallback-reason"] == "bedrock_only"
    assert anthropic.received == [] and len(bedrock.received) == 1


def test_plan_only_users_get_the_plans_429(gateway, anthropic, bedrock):
    developer = gateway.add_developer("Po", routing_mode=RoutingMode.PLAN_ONLY)
    anthropic.enqueue(plan_limit_until(600))
    response = ask(developer, gateway)
    assert response.status_code == 429 and response.headers["anthropic-ratelimit-unified-status"] == "rejected"
    assert bedrock.received == []


def test_sdk_sees_the_same_shapes_through_plan_and_bedrock(gateway, developer, anthropic):
    client = anthropic_sdk.Anthropic(base_url=developer.base_url(gateway), api_key="sk-ant-x", max_retries=0)

    def run():
        with client.messages.stream(model="claude-sonnet-4-5-20250929", max_tokens=200,
                                    thinking={"type": "enabled", "budget_tokens": 100},
                                    messages=[{"role": "user", "content": "reply with: same"}]) as stream:
            kinds = [event.type for event in stream]
            return kinds, stream.get_final_message(), stream.response.headers["x-overspill-route"]

    plan_kinds, plan_message, plan_route = run()
    anthropic.enqueue(plan_limit_until(600))
    bedrock_kinds, bedrock_message, bedrock_route = run()
    assert (plan_route, bedrock_route) == ("plan", "bedrock")
    assert bedrock_message.model == plan_message.model == "claude-sonnet-4-5-20250929"
    assert [b.type for b in bedrock_message.content] == [b.type for b in plan_message.content] == ["thinking", "text"]
    assert bedrock_message.content[0].signature and bedrock_message.content[1].text == "same"
    assert set(bedrock_kinds) - {"ping"} == set(plan_kinds) - {"ping"}
    assert set(bedrock_message.model_dump()) == set(plan_message.model_dump())


def test_non_streaming_fallback_is_the_anthropic_message_json(gateway, developer, anthropic, bedrock):
    anthropic.enqueue(plan_limit_until(600))
    response = ask(developer, gateway, stream=False, model="claude-haiku-4-5-20251001", text="reply with: json")
    message = response.json()
    assert message["type"] == "message" and message["model"] == "claude-haiku-4-5-20251001"
    assert message["content"][0]["text"] == "json"
    assert bedrock.last_request().operation == "invoke"
    assert bedrock.last_request().model_id == "us.anthropic.claude-haiku-4-5-20251001-v1:0"


@pytest.mark.parametrize(("code", "status", "error_type", "retry"), [
    ("ThrottlingException", 429, "rate_limit_error", "true"),
    ("ServiceUnavailableException", 529, "overloaded_error", "true"),
    ("ModelTimeoutException", 529, "overloaded_error", "true"),
    ("ValidationException", 400, "invalid_request_error", "false"),
    ("AccessDeniedException", 403, "permission_error", "false"),
    ("UnrecognizedClientException", 403, "permission_error", "false"),
])
def test_bedrock_errors_become_anthropic_errors(gateway, developer, anthropic, bedrock, code, status, error_type,
                                                retry):
    anthropic.enqueue(plan_limit_until(600))
    bedrock.enqueue(BedrockScenario.error(code, "Bedrock says no"))
    response = ask(developer, gateway)
    assert response.status_code == status
    assert response.json()["error"]["type"] == error_type
    assert response.json()["error"]["message"].startswith("Overspill (Bedrock fallback)")
    assert response.headers["x-should-retry"] == retry
    assert response.headers["x-overspill-route"] == "bedrock"
    event = wait_for_usage(gateway, response.headers["x-overspill-request-id"])
    assert (event.status, event.route, event.error_type) == (status, "bedrock", error_type)


def test_bedrock_exception_mid_stream_is_an_sse_error(gateway, developer, anthropic, bedrock):
    anthropic.enqueue(plan_limit_until(600))
    bedrock.enqueue(BedrockScenario.exception_mid_stream(after_events=3, exception_type="modelStreamErrorException"))
    response = ask(developer, gateway)
    last = sse_events(response.text)[-1]
    assert last["type"] == "error" and last["error"]["type"] == "overloaded_error"


def test_an_unsupported_beta_is_dropped_retried_once_and_remembered(gateway, developer, anthropic, bedrock,
                                                                    captured_logs):
    anthropic.set_default(Scenario.plan_limit(int(time.time() + 600)))
    bedrock.enqueue(BedrockScenario.reject_beta("fine-grained-tool-streaming-2025-05-14"))
    try:
        first = ask(developer, gateway)
        assert first.status_code == 200
        attempts = bedrock.received
        assert len(attempts) == 2
        assert "fine-grained-tool-streaming-2025-05-14" in attempts[0].json()["anthropic_beta"]
        assert "fine-grained-tool-streaming-2025-05-14" not in attempts[1].json()["anthropic_beta"]
        bedrock.clear()
        assert ask(developer, gateway).status_code == 200
        assert len(bedrock.received) == 1
        assert "fine-grained-tool-streaming-2025-05-14" not in bedrock.last_request().json()["anthropic_beta"]
    finally:
        anthropic.set_default(None)
    assert "dropping it for this model" in captured_logs.getvalue()


def test_an_unsupported_field_is_dropped_too(gateway, developer, anthropic, bedrock):
    anthropic.enqueue(plan_limit_until(600))
    bedrock.enqueue(BedrockScenario.reject_field("context_management"))
    response = ask(developer, gateway, context_management={"edits": []})
    assert response.status_code == 200
    assert "context_management" not in bedrock.last_request().json()


def test_unknown_model_is_a_400_naming_it(gateway, developer, anthropic, bedrock):
    anthropic.enqueue(plan_limit_until(600))
    response = ask(developer, gateway, model="claude-imaginary-9")
    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert "claude-imaginary-9" in message and "OVERSPILL_BEDROCK_MODEL_MAP" in message
    assert bedrock.received == []
    event = wait_for_usage(gateway, response.headers["x-overspill-request-id"])
    assert (event.status, event.route, event.fallback_reason) == (400, "bedrock", "plan_limit")


def test_count_tokens_uses_bedrock_while_the_plan_is_limited(gateway, developer, anthropic, bedrock):
    anthropic.enqueue(plan_limit_until(600))
    ask(developer, gateway)
    anthropic.clear()
    client = anthropic_sdk.Anthropic(base_url=developer.base_url(gateway), api_key="k", max_retries=0)
    counted = client.messages.count_tokens(model="claude-haiku-4-5-20251001",
                                           messages=[{"role": "user", "content": "count me " * 50}])
    assert counted.input_tokens > 0
    request = bedrock.last_request()
    assert request.operation == "count-tokens"
    assert request.model_id == "anthropic.claude-haiku-4-5-20251001-v1:0"  # the bare foundation model
    assert anthropic.received == []


def test_early_switch_on_high_utilisation(anthropic, bedrock):
    with LocalGateway(anthropic.url, bedrock.url, early_switch_utilization=0.9) as gateway:
        developer = gateway.add_developer()
        reset = int(time.time() + 900)
        anthropic.enqueue(Scenario.stream(headers={"anthropic-ratelimit-unified-5h-utilization": "0.95",
                                                   "anthropic-ratelimit-unified-5h-reset": str(reset)}))
        first = ask(developer, gateway)
        assert first.headers["x-overspill-route"] == "plan"  # this answer is good: it is kept
        second = ask(developer, gateway)
        assert second.headers["x-overspill-route"] == "bedrock"
        breaker = breaker_after(gateway, first, developer.user_id)
        assert breaker.reason == "early_switch" and int(breaker.open_until.timestamp()) == reset


# --- Per-user Bedrock credentials on the fallback path -----------------------------------------------------

STORED_KEY_ID = "AKIAOVERSPILLTEST001"


def store_access_key(gateway, user_id: str, key_id: str = STORED_KEY_ID) -> None:
    from overspill.credentials.domain import BedrockCredentials
    from overspill.credentials.store import BedrockCredentialRepository
    from overspill.credentials.vault import CredentialVault

    credentials = BedrockCredentials.from_access_key(key_id, "s3cr3tBedrock/Secret+Key00000000000000000"[:40])
    BedrockCredentialRepository(CredentialVault(gateway.settings)).put(user_id, credentials)


def test_a_users_own_credentials_sign_the_bedrock_call(anthropic):
    from tests.support.fake_bedrock import FakeBedrock

    with FakeBedrock(require_auth=True, valid_access_keys={STORED_KEY_ID}) as bedrock, \
            LocalGateway(anthropic.url, bedrock.url) as gateway:
        developer = gateway.add_developer()
        store_access_key(gateway, developer.user_id)
        anthropic.enqueue(plan_limit_until(600))
        response = ask(developer, gateway)
        assert response.status_code == 200, response.text
        assert bedrock.last_request().credential == STORED_KEY_ID


def test_revoked_bedrock_credentials_are_a_403_that_says_to_ask_an_admin(anthropic):
    from tests.support.fake_bedrock import FakeBedrock

    with FakeBedrock(require_auth=True, valid_access_keys={"AKIASOMEONEELSE00001"}) as bedrock, \
            LocalGateway(anthropic.url, bedrock.url) as gateway:
        developer = gateway.add_developer()
        store_access_key(gateway, developer.user_id)
        anthropic.enqueue(plan_limit_until(600))
        response = ask(developer, gateway)
        assert response.status_code == 403
        assert response.json()["error"]["type"] == "permission_error"
        assert "admin" in response.json()["error"]["message"]
        assert response.headers["x-should-retry"] == "false"
        event = wait_for_usage(gateway, response.headers["x-overspill-request-id"])
        assert (event.status, event.route, event.fallback_reason) == (403, "bedrock", "plan_limit")


def test_credentials_kms_cannot_decrypt_is_a_clear_429_without_retries(gateway, developer, anthropic, bedrock,
                                                                       captured_logs, monkeypatch):
    from overspill.aws import client
    from tests.support.kms import enforce_kms_key_state

    enforce_kms_key_state(monkeypatch)
    store_access_key(gateway, developer.user_id)
    kms = client("kms", gateway.settings)
    key_id = next(a["TargetKeyId"] for a in kms.list_aliases()["Aliases"]
                  if a["AliasName"] == gateway.settings.credentials_kms_key_id)
    kms.disable_key(KeyId=key_id)
    anthropic.enqueue(plan_limit_until(600))
    response = ask(developer, gateway)
    assert response.status_code == 429
    assert response.headers["x-should-retry"] == "false"
    message = response.json()["error"]["message"]
    assert "Bedrock credentials could not be used" in message and "admin" in message
    assert bedrock.received == []
    event = wait_for_usage(gateway, response.headers["x-overspill-request-id"])
    assert (event.status, event.error_type) == (429, "rate_limit_error")
    assert "s3cr3t" not in captured_logs.getvalue() and "s3cr3t" not in response.text


def test_metrics_count_requests_by_route_and_fallback_reason(gateway, developer, anthropic, capfd, monkeypatch):
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    anthropic.enqueue(plan_limit_until(600))
    response = ask(developer, gateway)
    wait_for_usage(gateway, response.headers["x-overspill-request-id"])
    time.sleep(0.1)
    records = emf_records(capfd.readouterr().out)
    request = next(r for r in records if "Requests" in r)
    assert (request["route"], request["fallback_reason"], request["Requests"]) == ("bedrock", "plan_limit", [1.0])
    assert request["OutputTokens"][0] > 0 and request["TimeToFirstByte"][0] > 0
    assert any(r.get("BreakerOpened") == [1.0] and r["reason"] == "plan_limit" for r in records)
    text = json.dumps(records)
    assert developer.key not in text and developer.user_id not in text and "sk-ant" not in text


def test_bedrock_usage_comes_from_its_invocation_metrics(gateway, developer, anthropic, bedrock):
    """Bedrock bills by its own counts: they win over the usage inside the Anthropic events."""
    from tests.support.fake_bedrock import chunk_frame

    events = [
        {"type": "message_start", "message": {
            "id": "msg_bdrk_1", "type": "message", "role": "assistant", "model": "claude-opus-4-8", "content": [],
            "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 10, "output_tokens": 1}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "hi"}},
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
         "usage": {"output_tokens": 2}},
        {"type": "message_stop", "amazon-bedrock-invocationMetrics": {
            "inputTokenCount": 1234, "outputTokenCount": 56, "cacheReadInputTokenCount": 7000,
            "cacheWriteInputTokenCount": 800, "invocationLatency": 10, "firstByteLatency": 5}},
    ]
    anthropic.enqueue(plan_limit_until(600))
    bedrock.enqueue(BedrockScenario.raw(200, {"content-type": "application/vnd.amazon.eventstream"},
                                        b"".join(chunk_frame(e) for e in events)))
    response = ask(developer, gateway)
    assert "amazon-bedrock" not in response.text
    event = wait_for_usage(gateway, response.headers["x-overspill-request-id"])
    assert (event.tokens.input_tokens, event.tokens.output_tokens) == (1234, 56)
    assert (event.tokens.cache_read_input_tokens, event.tokens.cache_creation_input_tokens) == (7000, 800)
