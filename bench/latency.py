"""Time Overspill adds to time-to-first-byte and to total time, against the same fake upstream directly."""

from __future__ import annotations

import json
import statistics
import threading
import time
from dataclasses import dataclass

import httpx

from tests.support.claude_code_fixtures import load_all

FIXTURE = next(f for f in load_all() if f.name == "opus-default-stream")
BODY = json.dumps({**json.loads(FIXTURE.body), "stream": True}, separators=(",", ":")).encode()
HEADERS = {k: v for k, v in FIXTURE.headers.items() if k.lower() != "accept-encoding"}


@dataclass
class Sample:
    ttfb_ms: float
    total_ms: float
    ok: bool


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def run_load(url: str, *, concurrency: int, requests: int, warmup: int = 5, pause_s: float = 0.0) -> list[Sample]:
    """`requests` streaming Messages requests (Claude Code's own body), `concurrency` at a time, each
    worker on one keep-alive connection like Claude Code's client, `pause_s` between a worker's requests."""
    samples: list[Sample] = []
    lock = threading.Lock()
    remaining = iter(range(requests))

    def worker() -> None:
        with httpx.Client(timeout=60) as client:
            for _ in range(warmup):
                _one(client, url)
            while True:
                with lock:
                    if next(remaining, None) is None:
                        return
                sample = _one(client, url)
                with lock:
                    samples.append(sample)
                if pause_s:
                    time.sleep(pause_s)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return samples


def _one(client: httpx.Client, url: str) -> Sample:
    started = time.perf_counter()
    first = None
    ok = False
    with client.stream("POST", url, content=BODY, headers=HEADERS) as response:
        for chunk in response.iter_raw():
            if first is None and chunk:
                first = time.perf_counter()
            ok = ok or b"message_stop" in chunk
        ok = ok and response.status_code == 200
    ended = time.perf_counter()
    return Sample(((first or ended) - started) * 1000, (ended - started) * 1000, ok)


def summarize(samples: list[Sample]) -> dict[str, float]:
    ttfb = [s.ttfb_ms for s in samples]
    total = [s.total_ms for s in samples]
    return {
        "n": len(samples),
        "errors": sum(not s.ok for s in samples),
        "ttfb_p50": percentile(ttfb, 50), "ttfb_p95": percentile(ttfb, 95), "ttfb_p99": percentile(ttfb, 99),
        "total_p50": percentile(total, 50), "total_p95": percentile(total, 95),
        "total_p99": percentile(total, 99), "total_mean": statistics.fmean(total),
    }
