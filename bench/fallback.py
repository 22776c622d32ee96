"""The fallback's own cost: from the plan's refusal to the client's first Bedrock byte, less what the two
upstreams themselves took; and the per-event cost of re-emitting Bedrock's events as SSE."""

from __future__ import annotations

import base64
import json
import statistics
import time

import boto3
import httpx
import orjson
from botocore.config import Config
from botocore.eventstream import EventStreamBuffer

from bench.harness import fake_anthropic_process, fake_bedrock_process, overspill_dev_process
from bench.latency import percentile
from overspill.bedrock.events import StreamTranslator
from tests.support.fake_bedrock import chunk_frame

BEDROCK = {"delay_ms": 20, "event_interval_ms": 2, "text_events": 20}
BODY = {"model": "claude-sonnet-4-5-20250929", "max_tokens": 200, "stream": True,
        "messages": [{"role": "user", "content": "hello"}]}
REQUESTS = 100  # per path, measured; each path also sends 5 unmeasured first
# As in the three-ways phase: the local rollup function (another Lambda on AWS) and the local state's periodic saves
# are off, or their CPU on moto lands on the requests measured.
DEV_FLAGS = ("--no-rollups", "--snapshot-every", "0")


def _ttfb_ms(client: httpx.Client, url: str, body: bytes, headers: dict[str, str]) -> tuple[float, int, str]:
    started = time.perf_counter()
    with client.stream("POST", url, content=body, headers=headers) as response:
        for chunk in response.iter_raw():
            if chunk:
                return (time.perf_counter() - started) * 1000, response.status_code, \
                    response.headers.get("x-overspill-route", "")
    return (time.perf_counter() - started) * 1000, response.status_code, ""


def _bedrock_ttfb_ms(bedrock_url: str, n: int) -> list[float]:
    client = boto3.client("bedrock-runtime", region_name="us-east-1", endpoint_url=bedrock_url,
                          aws_access_key_id="AKIAOVERSPILLBENCH01", aws_secret_access_key="x" * 40,
                          config=Config(retries={"max_attempts": 1}))
    payload = json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 200,
                          "messages": BODY["messages"]})
    samples = []
    for index in range(n + 5):
        started = time.perf_counter()
        stream = client.invoke_model_with_response_stream(modelId="us.anthropic.claude-sonnet-4-5-20250929-v1:0",
                                                          body=payload)
        first = next(iter(stream["body"]))
        elapsed = (time.perf_counter() - started) * 1000
        assert "chunk" in first
        for _ in stream["body"]:
            pass
        if index >= 5:
            samples.append(elapsed)
    return samples


def _gateway_ttfb_ms(url: str, n: int, expect_route: str) -> list[float]:
    samples = []
    body = json.dumps(BODY).encode()
    headers = {"x-api-key": "k", "content-type": "application/json", "anthropic-version": "2023-06-01"}
    with httpx.Client(timeout=30) as client:
        for index in range(n + 5):
            elapsed, status, route = _ttfb_ms(client, url, body, headers)
            assert status == 200 and route == expect_route, (status, route)
            if index >= 5:
                samples.append(elapsed)
    return samples


def _plan_refusal_ms(plan_url: str, n: int) -> list[float]:
    samples = []
    with httpx.Client() as client:
        for index in range(n + 5):
            started = time.perf_counter()
            response = client.post(plan_url + "/v1/messages", json=BODY)
            elapsed = (time.perf_counter() - started) * 1000
            assert response.status_code in (429, 529)
            if index >= 5:
                samples.append(elapsed)
    return samples


def fallback_latency() -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, float]] = {}
    with fake_bedrock_process(**BEDROCK) as bedrock_url:
        bedrock = _bedrock_ttfb_ms(bedrock_url, REQUESTS)
        # (1) Every request refused by the plan (529, the breaker told never to open): plan → Bedrock each time.
        with fake_anthropic_process(extra=("--error-status", "529")) as plan_url, \
                overspill_dev_process(plan_url, bedrock_url=bedrock_url,
                                      settings={"breaker_failure_threshold": "1000000000"}, flags=DEV_FLAGS) as dev:
            plan = _plan_refusal_ms(plan_url, REQUESTS)
            via = _gateway_ttfb_ms(dev.base_url + "/v1/messages", REQUESTS, "bedrock")
        results["refused"] = _summary(via, plan, bedrock)
        # (1b) The plan answers 429 (retry-after 0) every time: each request finds the breaker's reset passed,
        # takes the probe (a conditional write), is refused, reopens it (another) and goes to Bedrock — the
        # path of the first request after each reset, here on every request.
        with fake_anthropic_process(extra=("--error-status", "429", "--retry-after", "0")) as plan_url, \
                overspill_dev_process(plan_url, bedrock_url=bedrock_url, flags=DEV_FLAGS) as dev:
            plan = _plan_refusal_ms(plan_url, REQUESTS)
            via = _gateway_ttfb_ms(dev.base_url + "/v1/messages", REQUESTS, "bedrock")
        results["refused_429"] = _summary(via, plan, bedrock)
        # (2) The plan limited (429, unified rejected): the first request opens the breaker, the rest go
        # straight to Bedrock until the reset.
        with fake_anthropic_process(extra=("--plan-limited",)) as plan_url, \
                overspill_dev_process(plan_url, bedrock_url=bedrock_url, flags=DEV_FLAGS) as dev:
            via = _gateway_ttfb_ms(dev.base_url + "/v1/messages", REQUESTS, "bedrock")
        results["breaker_open"] = _summary(via, [0.0] * len(via), bedrock)
    return results


def _summary(via: list[float], plan: list[float], bedrock: list[float]) -> dict[str, float]:
    summary = {}
    for name, q in (("p50", 50), ("p95", 95), ("p99", 99)):
        summary[f"via_{name}"] = percentile(via, q)
        summary[f"plan_{name}"] = percentile(plan, q)
        summary[f"bedrock_{name}"] = percentile(bedrock, q)
        summary[f"added_{name}"] = summary[f"via_{name}"] - summary[f"plan_{name}"] - summary[f"bedrock_{name}"]
    return summary


def per_event_cost_us(events: int = 10_000) -> dict[str, float]:
    """µs per content_block_delta event: botocore's event-stream decoding and our SSE re-emission."""
    delta = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "token "}}
    frames = b"".join(chunk_frame(delta) for _ in range(events))
    started = time.perf_counter()
    buffer = EventStreamBuffer()
    buffer.add_data(frames)
    payloads = [base64.b64decode(orjson.loads(message.payload)["bytes"]) for message in buffer]
    decode_us = (time.perf_counter() - started) / events * 1e6
    translator = StreamTranslator("claude-sonnet-4-5-20250929")
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        for payload in payloads:
            translator.feed(payload)
        runs.append((time.perf_counter() - started) / events * 1e6)
    return {"decode_us": decode_us, "translate_us": statistics.median(runs)}
