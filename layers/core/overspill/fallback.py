"""When the plan's answer means "use Bedrock instead", and for how long — decided from the status and
headers alone, before a single byte reaches the client (PROTOCOL.md §3)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum


class FallbackReason(StrEnum):
    PLAN_LIMIT = "plan_limit"        # 429, unified status rejected: the subscription window is used up
    THROTTLE = "throttle"            # 429 without plan headers: a short server-side throttle
    OVERLOADED = "overloaded"        # 529
    SERVER_ERROR = "server_error"    # 5xx
    UNREACHABLE = "unreachable"      # connection refused / DNS / TLS
    TIMEOUT = "timeout"              # no response headers in time
    EARLY_SWITCH = "early_switch"    # the plan reported utilisation over the configured threshold
    BREAKER_OPEN = "breaker_open"    # remembered from an earlier answer
    BEDROCK_ONLY = "bedrock_only"    # the user's routing mode


# Failures that count towards opening the breaker for a cooldown (rather than opening it at once).
COUNTED_FAILURES = frozenset({FallbackReason.OVERLOADED, FallbackReason.SERVER_ERROR, FallbackReason.UNREACHABLE,
                              FallbackReason.TIMEOUT})


@dataclass(frozen=True, slots=True)
class FallbackSignal:
    reason: FallbackReason
    status: int | None
    # How long the plan should be left alone. None: only this request falls back (a counted failure).
    open_until: datetime | None = None


def classify(status: int, headers: Iterable[tuple[str, str]], *, now: datetime,
             throttle_open: timedelta) -> FallbackSignal | None:
    """The plan answered with `status`: should this request fall back, and should the breaker open?"""
    if status == 429:
        values = _lower(headers)
        if values.get("anthropic-ratelimit-unified-status") == "rejected":
            return FallbackSignal(FallbackReason.PLAN_LIMIT, status, plan_reset(values, now=now))
        retry_after = _seconds(values.get("retry-after"))
        wait = timedelta(seconds=retry_after) if retry_after is not None else throttle_open
        return FallbackSignal(FallbackReason.THROTTLE, status, now + wait)
    if status == 529:
        return FallbackSignal(FallbackReason.OVERLOADED, status)
    if status >= 500:
        return FallbackSignal(FallbackReason.SERVER_ERROR, status)
    return None  # 2xx, and client errors (400/401/403/404/413…): the developer's answer, unchanged


def plan_reset(values: dict[str, str], *, now: datetime) -> datetime:
    """When a rejected plan lifts: the unified reset, else the latest reset among rejected windows."""
    unified = _epoch(values.get("anthropic-ratelimit-unified-reset"))
    if unified is not None and unified > now:
        return unified
    rejected_resets = []
    for name, value in values.items():
        if name.startswith("anthropic-ratelimit-unified-") and name.endswith("-status") and value == "rejected":
            window = name.removesuffix("-status")
            reset = _epoch(values.get(window + "-reset"))
            if reset is not None:
                rejected_resets.append(reset)
    if rejected_resets and max(rejected_resets) > now:
        return max(rejected_resets)
    retry_after = _seconds(values.get("retry-after"))
    # No usable reset at all: keep Bedrock for a while rather than hammering a limited plan.
    return now + timedelta(seconds=retry_after if retry_after is not None else 300)


def utilization(headers: Iterable[tuple[str, str]]) -> tuple[float | None, datetime | None]:
    """The highest utilisation any plan window reports (0–1), and that window's reset."""
    values = _lower(headers)
    highest: tuple[float | None, datetime | None] = (None, None)
    for name, value in values.items():
        if name.startswith("anthropic-ratelimit-unified-") and name.endswith("-utilization"):
            try:
                used = float(value)
            except ValueError:
                continue
            if used > 1.0:  # some clients report percentages
                used /= 100.0
            if highest[0] is None or used > highest[0]:
                window = name.removesuffix("-utilization")
                highest = (used, _epoch(values.get(window + "-reset")) or _epoch(
                    values.get("anthropic-ratelimit-unified-reset")))
    return highest


def _lower(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    return {name.lower(): value.strip() for name, value in headers}


def _seconds(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if 0 <= seconds < 7 * 24 * 3600 else None


def _epoch(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except (ValueError, OverflowError, OSError):
        try:  # the API-key rate-limit headers use RFC 3339
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
