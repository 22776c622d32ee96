"""A proxied request and response, free of any Lambda or HTTP-server shape."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(slots=True)
class ProxyRequest:
    method: str
    path: str
    query: str
    headers: list[tuple[str, str]]   # lower-case names, in the order received
    body: bytes
    request_id: str
    received_at: float               # perf_counter at arrival: the origin of every latency we report
    received_wall: datetime
    source_ip: str | None = None

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None


@dataclass(slots=True)
class ProxyResponse:
    status: int
    headers: dict[str, str]
    body: bytes | Iterable[bytes] = b""
    cookies: list[str] = field(default_factory=list)
