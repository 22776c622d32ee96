"""Optional throttling of repeated rejected access keys per source address (``OVERSPILL_KEY_FAILURE_LIMIT``): after the
limit, that address gets a 429 with retry-after — answered before any key lookup — until its window ends."""

from __future__ import annotations

import json

from tests.support.aws_calls import AwsCallLog
from tests.support.gateway import LocalGateway
from tests.support.raw_http import RawAnswer, request, send_raw

BODY = json.dumps({"model": "claude-opus-4-8", "max_tokens": 5,
                   "messages": [{"role": "user", "content": "hi"}]}).encode()


def messages(key: str) -> bytes:
    return request("POST", f"/ak/{key}/v1/messages".encode(), BODY)


def error_of(answer: RawAnswer) -> tuple[int, str, str]:
    body = answer.json()
    assert body["type"] == "error" and body["error"]["message"].startswith("Overspill")
    return answer.status, body["error"]["type"], body["error"]["message"]


def test_repeated_rejected_keys_from_one_address_get_a_429_without_any_lookup(anthropic, captured_logs):
    with AwsCallLog() as calls, LocalGateway(anthropic.url, key_failure_limit=3, key_failure_window_s=60) as gateway:
        developer = gateway.add_developer()
        bad = [f"ak_{index}" + "Z" * 43 for index in range(5)]
        for key in bad[:3]:
            assert error_of(send_raw(gateway.url, messages(key)))[:2] == (401, "authentication_error")
        calls.take()

        throttled = send_raw(gateway.url, messages(bad[3]))
        status, error_type, message = error_of(throttled)
        assert (status, error_type) == (429, "rate_limit_error") and "ANTHROPIC_BASE_URL" in message
        assert 55 <= int(throttled.headers["retry-after"]) <= 60
        assert throttled.headers["x-should-retry"] == "true"
        assert calls.take() == []  # no key lookup, no AWS call at all
        # The address is refused as a whole while it lasts: a good key from it too.
        assert send_raw(gateway.url, messages(developer.key)).status == 429

        # Another address has its own count: its bad key is looked up and rejected, its good key works.
        assert send_raw(gateway.url, messages(bad[4]), source="127.0.0.2").status == 401
        assert send_raw(gateway.url, messages(developer.key), source="127.0.0.2").status == 200
        # A request without any key (a base URL missing /ak/<key>) costs no lookup and is never throttled.
        for _ in range(5):
            answer = send_raw(gateway.url, request("POST", b"/v1/messages", BODY), source="127.0.0.3")
            assert error_of(answer)[:2] == (401, "authentication_error")
        assert len(anthropic.received) == 1

    text = captured_logs.getvalue()
    logged = [json.loads(line) for line in text.splitlines() if "rejected access keys throttled" in line]
    assert [(line["source"], line["rejections"]) for line in logged] == [("127.0.0.1", 3)]  # once per window
    assert developer.key[10:] not in text


def test_good_keys_never_count_however_many(anthropic):
    with LocalGateway(anthropic.url, key_failure_limit=2) as gateway:
        developer = gateway.add_developer()
        for _ in range(6):
            assert send_raw(gateway.url, messages(developer.key)).status == 200


def test_rejected_keys_are_not_throttled_unless_configured(gateway, anthropic):
    for index in range(25):
        answer = send_raw(gateway.url, messages(f"ak_{index}{'Y' * 43}"))
        assert error_of(answer)[:2] == (401, "authentication_error")
    assert anthropic.received == []
