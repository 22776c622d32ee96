"""Repeated rejected keys from one address: a 429 with retry-after once the limit is used up, until the window ends."""

import orjson
import pytest

from overspill.proxy.abuse import FailedKeyThrottle, TooManyFailedKeys, source_of


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def throttle(limit: int = 3, window_s: float = 60.0, **kwargs) -> tuple[FailedKeyThrottle, Clock]:
    clock = Clock()
    return FailedKeyThrottle(limit, window_s, clock=clock, **kwargs), clock


def test_the_limit_is_allowed_and_the_next_request_is_refused_until_the_window_ends():
    keys, clock = throttle(limit=3)
    for _ in range(3):
        keys.check("203.0.113.7")
        keys.rejected("203.0.113.7")
    clock.now += 20
    with pytest.raises(TooManyFailedKeys) as refused:
        keys.check("203.0.113.7")
    assert refused.value.retry_after_s == 40          # counted from the first rejection, not the last
    clock.now += 40.5
    keys.check("203.0.113.7")                          # the window is over: keys are looked up again


def test_refusals_do_not_extend_the_window():
    keys, clock = throttle(limit=1, window_s=10)
    keys.rejected("203.0.113.7")
    for _ in range(5):
        clock.now += 1.9
        with pytest.raises(TooManyFailedKeys):
            keys.check("203.0.113.7")
    clock.now += 0.6
    keys.check("203.0.113.7")


def test_other_addresses_are_not_affected():
    keys, _ = throttle(limit=1)
    keys.rejected("203.0.113.7")
    keys.check("203.0.113.8")
    keys.check("2001:db8::1")


def test_an_ipv6_client_counts_as_its_slash_64():
    keys, _ = throttle(limit=2)
    keys.rejected("2001:db8:1:2::1")
    keys.rejected("2001:db8:1:2:ffff::9")             # another address in the same /64
    with pytest.raises(TooManyFailedKeys):
        keys.check("2001:db8:1:2:abcd::42")
    keys.check("2001:db8:1:3::1")                      # the next /64 is someone else
    assert source_of("::ffff:203.0.113.7") == "203.0.113.7"


def test_an_unknown_or_unreadable_source_is_never_throttled():
    keys, _ = throttle(limit=1)
    for source in (None, "", "not-an-address"):
        keys.rejected(source)
        keys.rejected(source)
        keys.check(source)


def test_memory_stays_bounded_when_many_addresses_fail():
    keys, _ = throttle(limit=1, max_sources=100)
    for index in range(10_000):
        keys.rejected(f"10.{index // 65536}.{index // 256 % 256}.{index % 256}")
    assert len(keys._windows) == 100
    with pytest.raises(TooManyFailedKeys):
        keys.check("10.0.39.15")                       # the most recent are the ones remembered


def test_the_refusal_is_an_anthropic_shaped_429_with_retry_after():
    refusal = TooManyFailedKeys(17)
    assert refusal.status == 429
    headers = refusal.headers()
    assert headers["retry-after"] == "17" and headers["x-should-retry"] == "true"
    body = orjson.loads(refusal.body("req_1"))
    assert body["error"]["type"] == "rate_limit_error"
    assert "17 s" in body["error"]["message"] and "ANTHROPIC_BASE_URL" in body["error"]["message"]
