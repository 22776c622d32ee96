"""CPU cost of the gateway's own logic per request, without any network: the Function URL event for
Claude Code's request body, routing, the cached key, the body check, the breaker, the upstream headers —
everything up to the moment the plan would be called."""

from __future__ import annotations

import statistics
import time

from bench.latency import BODY, HEADERS
from overspill.local.function_url import LocalContext, function_url_event
from overspill.proxy import function_url
from overspill.upstream.base import UpstreamRequest
from tests.support.gateway import LocalGateway


class _StopBeforeTheNetwork(Exception):
    pass


class _Unsent:
    name = "anthropic"

    def send(self, request: UpstreamRequest, **_: object) -> None:
        raise _StopBeforeTheNetwork


def pipeline_us(requests: int = 2000) -> float:
    """Median µs per request over 5 runs (warm instance, cached key, cached breaker)."""
    with LocalGateway("http://127.0.0.1:9") as gateway:
        developer = gateway.add_developer()
        gateway.proxy._plan = _Unsent()  # the plan call itself is what the latency benchmark measures
        headers = list(HEADERS.items())
        path = f"/ak/{developer.key}/v1/messages"

        def one() -> None:
            event = function_url_event("POST", path, "beta=true", headers, BODY)
            try:
                gateway.proxy.handle(function_url.to_request(event, LocalContext("proxy")))
            except _StopBeforeTheNetwork:
                pass

        for _ in range(100):
            one()
        runs = []
        for _ in range(5):
            started = time.perf_counter()
            for _ in range(requests):
                one()
            runs.append((time.perf_counter() - started) / requests * 1e6)
        return statistics.median(runs)


def plan_event_cost_us(events: int = 10_000, runs: int = 5) -> float:
    """µs per streamed plan event spent by the gateway reading it on the way (the usage tap), for an answer the
    size of `events` text deltas arriving one SSE event per chunk, as Anthropic sends them; median of `runs`."""
    from overspill.usage.tap import SseTap
    from tests.support.fake_anthropic import sse_event

    delta = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "token "}}
    chunks = [
        sse_event("message_start", {"type": "message_start", "message": {
            "id": "msg_bench", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5", "content": [],
            "stop_reason": None, "usage": {"input_tokens": 10, "output_tokens": 1}}}),
        *(sse_event("content_block_delta", delta) for _ in range(events)),
        sse_event("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                                    "usage": {"output_tokens": events}}),
        sse_event("message_stop", {"type": "message_stop"}),
    ]
    timings = []
    for _ in range(runs):
        tap = SseTap()
        started = time.perf_counter()
        for chunk in chunks:
            tap.feed(chunk)
        tap.finish()
        timings.append((time.perf_counter() - started) / len(chunks) * 1e6)
    return statistics.median(timings)
