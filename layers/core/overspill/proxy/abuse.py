"""Repeated rejected access keys from one source: after ``limit`` rejections within a window, the source gets a 429
until the window ends, answered before any key lookup (no HMAC, no DynamoDB read).

Counted in the instance's memory, bounded: on Lambda each instance counts only the requests it serves, so a source
spread over many instances gets up to ``limit`` rejections per instance per window. It caps the reads one source can
cost an instance, not a fleet-wide rate (that is a WAF's job, in front of the REST API).
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections.abc import Callable

from cachetools import TTLCache

from overspill.errors import GatewayError
from overspill.observability import logger

KEY_FAILURES_THROTTLED = "key_failures_throttled"
# One IPv6 client holds a whole /64 (SLAAC, privacy addresses): counting per address would let it rotate freely.
_IPV6_PREFIX = 64


class TooManyFailedKeys(GatewayError):
    def __init__(self, retry_after_s: int) -> None:
        super().__init__(
            429,
            "Overspill: too many requests with an unknown, revoked or expired access key came from your network "
            f"address, so it is refused for the next {retry_after_s} s. Check that ANTHROPIC_BASE_URL holds the "
            "key your Overspill admin gave you.",
            # Retrying after retry-after can help (a colleague's good key behind the same address, say).
            should_retry=True, reason=KEY_FAILURES_THROTTLED,
        )
        self.retry_after_s = retry_after_s

    def headers(self) -> dict[str, str]:
        return {**super().headers(), "retry-after": str(self.retry_after_s)}


class _Window:
    __slots__ = ("started", "failures")

    def __init__(self, started: float) -> None:
        self.started = started
        self.failures = 0


class FailedKeyThrottle:
    def __init__(self, limit: int, window_s: float, *, max_sources: int = 10_000,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._limit = limit
        self._window_s = window_s
        self._clock = clock
        # A window lives window_s from its first rejection (counting in place does not extend it); the size bound
        # keeps memory flat when many addresses send bad keys (the least recently seen are forgotten first).
        self._windows: TTLCache[str, _Window] = TTLCache(max_sources, window_s, timer=clock)
        self._lock = threading.Lock()

    def check(self, source_ip: str | None) -> None:
        """Raise TooManyFailedKeys when this source has used up its rejections for the window."""
        source = source_of(source_ip)
        if source is None:
            return
        with self._lock:
            window = self._windows.get(source)
        if window is None or window.failures < self._limit:
            return
        raise TooManyFailedKeys(max(1, math.ceil(window.started + self._window_s - self._clock())))

    def rejected(self, source_ip: str | None) -> None:
        """Count one rejected key from this source."""
        source = source_of(source_ip)
        if source is None:
            return
        with self._lock:
            window = self._windows.get(source)
            if window is None:
                window = self._windows[source] = _Window(self._clock())
            window.failures += 1
            reached = window.failures == self._limit
        if reached:
            # Once per window and source: enough for an operator to see who, without a line per request.
            logger.warning("rejected access keys throttled", extra={
                "source": source, "rejections": self._limit, "window_s": self._window_s})


def source_of(source_ip: str | None) -> str | None:
    """What a source is counted as: its IPv4 address, or its IPv6 /64; None when the address is unreadable."""
    if not source_ip:
        return None
    try:
        address = ipaddress.ip_address(source_ip)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, _IPV6_PREFIX), strict=False))
    return str(address)
