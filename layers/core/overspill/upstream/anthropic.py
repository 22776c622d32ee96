"""The plan route: the developer's request, bytes unchanged, to Anthropic; the answer back as it arrives."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx

from overspill.config import Settings
from overspill.upstream.base import UpstreamAnswer, UpstreamBroken, UpstreamRequest, UpstreamUnavailable


class AnthropicAnswer:
    def __init__(self, response: httpx.Response) -> None:
        self._response = response
        self.status = response.status_code
        self.headers = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in response.headers.raw]
        self.request_id = response.headers.get("request-id")

    def iter_bytes(self) -> Iterator[bytes]:
        try:
            # iter_raw: the bytes as sent (we asked for no content-coding), each as soon as it is read.
            yield from self._response.iter_raw()
        except httpx.TransportError as error:
            raise UpstreamBroken("anthropic", _describe(error)) from None

    def close(self) -> None:
        self._response.close()


class AnthropicUpstream:
    name = "anthropic"

    def __init__(self, settings: Settings, transport: httpx.BaseTransport | None = None) -> None:
        self._base = settings.anthropic_base
        self._host = urlsplit(self._base).netloc
        # One client per instance: its connection pool outlives invocations, so warm requests skip TLS.
        self._client = httpx.Client(
            timeout=httpx.Timeout(
                connect=settings.upstream_connect_timeout_s,
                read=settings.upstream_read_timeout_s,
                write=60.0,
                pool=settings.upstream_connect_timeout_s,
            ),
            limits=httpx.Limits(max_connections=settings.upstream_max_connections,
                                max_keepalive_connections=settings.upstream_max_connections,
                                keepalive_expiry=60.0),
            follow_redirects=False,
            trust_env=False,
            transport=transport,
        )
        # No default headers of httpx's own: what Claude Code sent is what Anthropic gets.
        self._client.headers.clear()

    def send(self, request: UpstreamRequest, *, first_byte_timeout_s: float | None = None) -> UpstreamAnswer:
        """`first_byte_timeout_s` bounds the wait for the response headers only (a stream that has not started
        by then is given up, so the caller can fall back before Claude Code's ~20 s stall warning)."""
        url = self._base + request.path + ("?" + request.query if request.query else "")
        outgoing = self._client.build_request(
            request.method, url, headers=request.headers,
            content=request.body if request.method not in ("GET", "HEAD") else None,
        )
        timeouts = outgoing.extensions["timeout"]
        body_read_timeout = timeouts["read"]
        if first_byte_timeout_s is not None:
            timeouts["read"] = first_byte_timeout_s
        try:
            response = self._client.send(outgoing, stream=True)
            # httpcore reads this dict again when the body starts: from here on, the long timeout applies.
            timeouts["read"] = body_read_timeout
        except httpx.TimeoutException as error:
            raise UpstreamUnavailable("anthropic", f"{self._host}: {_describe(error)}", timed_out=True) from None
        except httpx.TransportError as error:
            raise UpstreamUnavailable("anthropic", f"{self._host}: {_describe(error)}") from None
        return AnthropicAnswer(response)

    def close(self) -> None:
        self._client.close()


def _describe(error: httpx.TransportError) -> str:
    kinds = {
        httpx.ConnectTimeout: "connect timeout",
        httpx.ReadTimeout: "read timeout",
        httpx.WriteTimeout: "write timeout",
        httpx.PoolTimeout: "no free connection in the pool",
        httpx.ConnectError: "connection failed",
        httpx.RemoteProtocolError: "the connection closed unexpectedly",
        httpx.ReadError: "read error",
    }
    for kind, text in kinds.items():
        if isinstance(error, kind):
            return text
    return type(error).__name__
