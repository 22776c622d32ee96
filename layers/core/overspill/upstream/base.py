"""The interface every upstream implements: send a request, get a status, headers and a byte stream."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class UpstreamRequest:
    method: str
    path: str            # e.g. "/v1/messages" — the access-key prefix already removed
    query: str           # raw query string, passed on unchanged ("beta=true")
    headers: list[tuple[str, str]]
    body: bytes


class UpstreamAnswer(Protocol):
    status: int
    headers: list[tuple[str, str]]   # as received; lower-case names
    request_id: str | None

    def iter_bytes(self) -> Iterator[bytes]:
        """The body exactly as it arrives. Raises ``UpstreamBroken`` if the upstream fails mid-answer."""
        ...

    def close(self) -> None: ...


class Upstream(Protocol):
    name: str

    def send(self, request: UpstreamRequest, *, first_byte_timeout_s: float | None = None) -> UpstreamAnswer:
        """Raises ``UpstreamUnavailable`` when no answer (not even an error status) could be had."""
        ...


class UpstreamUnavailable(Exception):
    """No answer: connection refused, DNS failure, timeout before the response headers."""

    def __init__(self, upstream: str, reason: str, *, timed_out: bool = False) -> None:
        super().__init__(f"{upstream}: {reason}")
        self.upstream = upstream
        self.reason = reason
        self.timed_out = timed_out


class UpstreamBroken(Exception):
    """The answer started and then failed (disconnect, read timeout mid-stream)."""

    def __init__(self, upstream: str, reason: str) -> None:
        super().__init__(f"{upstream}: {reason}")
        self.upstream = upstream
        self.reason = reason
