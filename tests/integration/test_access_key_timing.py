"""A bad access key costs the same work whatever is wrong with it — unknown, revoked, expired or malformed — so the time
a 401 takes tells an attacker nothing. Counted here (the AWS calls each answer makes, on moto); timed by
bench/key_timing.py."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from overspill.keys import generate_key
from overspill.store.access_keys import AccessKeyRepository
from tests.support.aws_calls import AwsCall, AwsCallLog
from tests.support.fake_anthropic import FakeAnthropic
from tests.support.gateway import LocalGateway

MESSAGE = json.dumps({"model": "claude-opus-4-8", "max_tokens": 5,
                      "messages": [{"role": "user", "content": "hi"}]}).encode()


@pytest.fixture
def counted() -> Iterator[tuple[LocalGateway, AwsCallLog]]:
    with FakeAnthropic() as anthropic, AwsCallLog() as calls, \
            LocalGateway(anthropic.url, key_cache_ttl_s=60) as gateway:
        yield gateway, calls


def post(gateway: LocalGateway, key: str) -> httpx.Response:
    return httpx.post(f"{gateway.url}/ak/{key}/v1/messages", content=MESSAGE,
                      headers={"x-api-key": "sk-ant-api03-secret", "content-type": "application/json"}, timeout=10)


def bad_keys(gateway: LocalGateway) -> dict[str, str]:
    repository = AccessKeyRepository()
    owner = gateway.add_developer("Former")
    revoked, expired = generate_key(gateway.pepper), generate_key(gateway.pepper)
    repository.add(owner.user_id, revoked)
    repository.revoke(revoked.key_hash)
    repository.add(owner.user_id, expired, expires_at=datetime.now(UTC) - timedelta(minutes=1))
    token = generate_key(gateway.pepper).plain[3:]
    return {
        "unknown": generate_key(gateway.pepper).plain,
        "revoked": revoked.plain,
        "expired": expired.plain,
        "malformed: short": "ak_short",
        "malformed: not a key": "not-a-key",
        "malformed: an Anthropic key": "sk-ant-api03-" + token,
        "malformed: a character keys never hold": "ak_" + token[:-1] + "!",
        "malformed: too long": "ak_" + token * 8,
        "malformed: encoded CRLF": "ak_" + token + "%0d%0aX-Injected:%201",
    }


def test_unknown_revoked_expired_and_malformed_keys_make_the_same_aws_calls(counted):
    gateway, calls = counted
    keys = bad_keys(gateway)
    assert post(gateway, generate_key(gateway.pepper).plain).status_code == 401  # the pepper is read once, here
    calls.take()

    cold: dict[str, list[AwsCall]] = {}
    warm: dict[str, list[AwsCall]] = {}
    for name, key in keys.items():
        for seen in (cold, warm):  # first sight of the key, then the same key again (the instance's cache)
            response = post(gateway, key)
            assert response.status_code == 401, (name, response.text)
            assert response.json()["error"]["type"] == "authentication_error"
            seen[name] = calls.take()

    lookup = AwsCall("dynamodb", "Query", gateway.settings.access_keys_table)
    assert cold == {name: [lookup] for name in keys}   # one read by the key's hash, and no user read
    assert warm == {name: [] for name in keys}         # every answer cached alike, the malformed ones too


def test_a_valid_key_is_still_one_lookup_then_cached(counted):
    gateway, calls = counted
    developer = gateway.add_developer("Ada")
    calls.take()
    tables = (gateway.settings.access_keys_table, gateway.settings.users_table)
    # The key's last-used time is written after the answer has gone out, so it may land in either round: the
    # reads are compared round by round, the write over both.
    seen: list[list[AwsCall]] = []
    for _ in range(2):
        assert post(gateway, developer.key).status_code == 200
        seen.append([call for call in calls.take() if call.table in tables])
    deadline = time.monotonic() + 5
    while not any(call.operation == "UpdateItem" for call in seen[0] + seen[1]) and time.monotonic() < deadline:
        time.sleep(0.01)
        seen[1] += [call for call in calls.take() if call.table in tables]

    def reads(round_calls: list[AwsCall]) -> list[AwsCall]:
        return [call for call in round_calls if call.operation != "UpdateItem"]

    assert reads(seen[0]) == [AwsCall("dynamodb", "Query", gateway.settings.access_keys_table),
                              AwsCall("dynamodb", "GetItem", gateway.settings.users_table)]
    assert reads(seen[1]) == []  # the instance's cache answers the second request
    touches = [call for call in seen[0] + seen[1] if call.operation == "UpdateItem"]
    assert touches == [AwsCall("dynamodb", "UpdateItem", gateway.settings.access_keys_table)]  # once per interval
