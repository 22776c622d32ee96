"""Which plan answers send a request to Bedrock, and how long the plan is then left alone."""

from datetime import UTC, datetime, timedelta

import pytest

from overspill.fallback import FallbackReason, classify, utilization

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
THROTTLE = timedelta(seconds=30)


def at(seconds: float) -> str:
    return str(int((NOW + timedelta(seconds=seconds)).timestamp()))


def test_plan_limit_opens_until_the_unified_reset():
    signal = classify(429, [("anthropic-ratelimit-unified-status", "rejected"),
                            ("anthropic-ratelimit-unified-reset", at(3600)), ("retry-after", "5")],
                      now=NOW, throttle_open=THROTTLE)
    assert signal.reason is FallbackReason.PLAN_LIMIT
    assert signal.open_until == NOW + timedelta(seconds=3600)


def test_plan_limit_without_unified_reset_uses_the_latest_rejected_window():
    headers = [("Anthropic-Ratelimit-Unified-Status", "rejected"),
               ("anthropic-ratelimit-unified-5h-status", "rejected"),
               ("anthropic-ratelimit-unified-5h-reset", at(600)),
               ("anthropic-ratelimit-unified-7d-status", "rejected"),
               ("anthropic-ratelimit-unified-7d-reset", at(9000)),
               ("anthropic-ratelimit-unified-7d_opus-status", "allowed"),
               ("anthropic-ratelimit-unified-7d_opus-reset", at(99999))]
    signal = classify(429, headers, now=NOW, throttle_open=THROTTLE)
    assert signal.open_until == NOW + timedelta(seconds=9000)


def test_throttle_without_plan_headers_opens_briefly():
    assert classify(429, [("retry-after", "12")], now=NOW, throttle_open=THROTTLE).open_until == \
        NOW + timedelta(seconds=12)
    signal = classify(429, [], now=NOW, throttle_open=THROTTLE)
    assert (signal.reason, signal.open_until) == (FallbackReason.THROTTLE, NOW + THROTTLE)
    allowed = classify(429, [("anthropic-ratelimit-unified-status", "allowed")], now=NOW, throttle_open=THROTTLE)
    assert allowed.reason is FallbackReason.THROTTLE


@pytest.mark.parametrize(("status", "reason"), [(529, FallbackReason.OVERLOADED), (500, FallbackReason.SERVER_ERROR),
                                                (502, FallbackReason.SERVER_ERROR), (503, FallbackReason.SERVER_ERROR)])
def test_server_failures_fall_back_without_opening_at_once(status, reason):
    signal = classify(status, [], now=NOW, throttle_open=THROTTLE)
    assert (signal.reason, signal.open_until) == (reason, None)


@pytest.mark.parametrize("status", [200, 201, 400, 401, 403, 404, 413, 422])
def test_answers_and_client_errors_never_fall_back(status):
    assert classify(status, [("anthropic-ratelimit-unified-status", "rejected")], now=NOW,
                    throttle_open=THROTTLE) is None


def test_utilization_reports_the_fullest_window():
    used, reset = utilization([("anthropic-ratelimit-unified-5h-utilization", "0.42"),
                               ("anthropic-ratelimit-unified-5h-reset", at(100)),
                               ("anthropic-ratelimit-unified-7d-utilization", "0.97"),
                               ("anthropic-ratelimit-unified-7d-reset", at(5000))])
    assert used == pytest.approx(0.97) and reset == NOW + timedelta(seconds=5000)
    assert utilization([("anthropic-ratelimit-unified-5h-utilization", "nonsense")]) == (None, None)
