"""Bad input gets a clear, Anthropic-shaped error — and nothing reaches Anthropic that should not."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from overspill.store.access_keys import AccessKeyRepository
from overspill.users import RoutingMode
from tests.support.gateway import LocalGateway, wait_for_usage

MESSAGE = {"model": "claude-opus-4-8", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}


def post(url: str, body: bytes | None = None, **headers: str) -> httpx.Response:
    return httpx.post(url, content=json.dumps(MESSAGE).encode() if body is None else body,
                      headers={"x-api-key": "sk-ant-api03-secret", "content-type": "application/json", **headers},
                      timeout=10)


def assert_anthropic_error(response: httpx.Response, status: int, error_type: str, *, retry: bool = False):
    assert response.status_code == status, response.text
    body = response.json()
    assert body["type"] == "error" and body["error"]["type"] == error_type
    assert body["error"]["message"].startswith("Overspill")
    assert response.headers["x-should-retry"] == ("true" if retry else "false")
    assert "Traceback" not in response.text
    return body["error"]["message"]


@pytest.mark.parametrize("path", [
    "/v1/messages",                       # ANTHROPIC_BASE_URL without the /ak/<key> part
    "/ak//v1/messages",
])
def test_missing_key_says_how_to_set_the_base_url(gateway, anthropic, path):
    message = assert_anthropic_error(post(gateway.url + path), 401, "authentication_error")
    assert "ANTHROPIC_BASE_URL" in message
    assert anthropic.received == []


def test_unknown_revoked_expired_and_malformed_keys_get_the_same_answer(gateway, anthropic):
    revoked = gateway.add_developer("Rev")
    AccessKeyRepository().revoke(revoked.key_hash)
    expired = gateway.add_developer("Exp", expires_at=datetime.now(UTC) - timedelta(minutes=1))
    unknown = "ak_" + "Z" * 43
    answers = []
    for key in (unknown, revoked.key, expired.key, "ak_short", "not-a-key"):
        response = post(f"{gateway.url}/ak/{key}/v1/messages")
        answers.append(assert_anthropic_error(response, 401, "authentication_error"))
    assert len(set(answers)) == 1
    assert anthropic.received == []


def test_revocation_takes_effect_within_the_cache_ttl(gateway, developer, anthropic):
    assert post(developer.base_url(gateway) + "/v1/messages").status_code == 200
    AccessKeyRepository().revoke(developer.key_hash)
    deadline = time.monotonic() + gateway.settings.key_cache_ttl_s + 2
    while post(developer.base_url(gateway) + "/v1/messages").status_code == 200:
        assert time.monotonic() < deadline, "revoked key still accepted after the cache TTL"
        time.sleep(0.05)
    assert_anthropic_error(post(developer.base_url(gateway) + "/v1/messages"), 401, "authentication_error")


@pytest.mark.parametrize(("body", "fragment"), [
    (b"{not json", "not valid JSON"),
    (b"", "not valid JSON"),
    (b"[1, 2]", "no \\\"model\\\""),
    (json.dumps({"messages": []}).encode(), "no \\\"model\\\""),
    (json.dumps({"model": 7, "messages": []}).encode(), "no \\\"model\\\""),
    (b"\xff\xfe{}", "not valid JSON"),
])
def test_bodies_that_are_not_a_messages_request_never_reach_anthropic(gateway, developer, anthropic, body,
                                                                      fragment):
    response = post(developer.base_url(gateway) + "/v1/messages", body)
    assert_anthropic_error(response, 400, "invalid_request_error")
    assert fragment in response.text
    assert anthropic.received == []
    event = wait_for_usage(gateway, response.headers["x-overspill-request-id"])
    assert (event.status, event.error_type) == (400, "invalid_request_error")


def test_count_tokens_body_is_checked_too(gateway, developer, anthropic):
    response = post(developer.base_url(gateway) + "/v1/messages/count_tokens", b"nope")
    assert_anthropic_error(response, 400, "invalid_request_error")
    assert anthropic.received == []


def test_body_over_the_limit_is_413(anthropic):
    with LocalGateway(anthropic.url, max_body_bytes=1024) as small:
        developer = small.add_developer()
        big = json.dumps({**MESSAGE, "messages": [{"role": "user", "content": "x" * 5000}]}).encode()
        response = post(developer.base_url(small) + "/v1/messages", big)
        message = assert_anthropic_error(response, 413, "request_too_large")
        assert "limit" in message
        assert anthropic.received == []
        event = wait_for_usage(small, response.headers["x-overspill-request-id"])
        assert (event.status, event.error_type) == (413, "request_too_large")
        assert post(developer.base_url(small) + "/v1/messages").status_code == 200


def test_anthropic_unreachable_is_a_502_that_says_so_when_the_user_never_falls_back():
    with LocalGateway("http://127.0.0.1:9", upstream_connect_timeout_s=1.0) as gateway:
        developer = gateway.add_developer(routing_mode=RoutingMode.PLAN_ONLY)
        response = post(developer.base_url(gateway) + "/v1/messages")
        message = assert_anthropic_error(response, 502, "api_error", retry=True)
        assert "could not reach Anthropic" in message and "connection failed" in message
        event = wait_for_usage(gateway, response.headers["x-overspill-request-id"])
        assert (event.status, event.error_type) == (502, "api_error")


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/"), ("POST", "/v1/complete"), ("GET", "/ak/{key}/v1/messages"), ("PUT", "/ak/{key}/v1/messages"),
    ("POST", "/ak/{key}/v1/files"),
])
def test_unknown_routes_are_anthropic_shaped_404s_that_do_not_echo_the_key(gateway, developer, anthropic,
                                                                          method, path):
    response = httpx.request(method, gateway.url + path.format(key=developer.key))
    body = response.json()
    assert response.status_code == 404 and body["error"]["type"] == "not_found_error"
    assert developer.key not in response.text
    assert anthropic.received == []


def test_startup_probe_answers_alike_for_any_key(gateway, developer, anthropic):
    answers = []
    for key in (developer.key, "ak_" + "Q" * 43, "whatever"):
        for method in ("HEAD", "GET"):
            response = httpx.request(method, f"{gateway.url}/ak/{key}")
            answers.append((method, response.status_code, response.content))
    assert {a for a in answers if a[0] == "HEAD"} == {("HEAD", 200, b"")}
    assert {a for a in answers if a[0] == "GET"} == {("GET", 200, b"{}")}
    assert anthropic.received == []


def test_last_used_is_written_once_per_interval_not_per_request(gateway, developer):
    for _ in range(5):
        assert post(developer.base_url(gateway) + "/v1/messages").status_code == 200
    time.sleep(0.3)
    key = AccessKeyRepository().find(developer.key_hash)
    assert key is not None and key.last_used_at is not None
    first = key.last_used_at
    for _ in range(3):
        post(developer.base_url(gateway) + "/v1/messages")
    time.sleep(0.3)
    assert AccessKeyRepository().find(developer.key_hash).last_used_at == first


def test_logs_never_contain_keys_credentials_or_prompt_text(gateway, developer, anthropic, captured_logs):
    secret_prompt = "my-secret-prompt-text-42"
    body = json.dumps({**MESSAGE, "stream": True,
                       "messages": [{"role": "user", "content": secret_prompt}]}).encode()
    post(developer.base_url(gateway) + "/v1/messages", body, authorization="Bearer sk-ant-oat01-topsecret")
    post(developer.base_url(gateway) + "/v1/messages", b"{bad json " + secret_prompt.encode())
    post(f"{gateway.url}/ak/ak_{'Y' * 43}/v1/messages")
    post(f"{gateway.url}/ak/{developer.key}/nope")
    time.sleep(0.3)
    text = captured_logs.getvalue()
    assert "request finished" in text and developer.prefix in text  # the logs are there, with the prefix
    for secret in (developer.key, developer.key[10:], "sk-ant-api03-secret", "sk-ant-oat01-topsecret",
                   secret_prompt, "Y" * 43):
        assert secret not in text
