"""Peak memory of the gateway process while it streams a long answer vs a short one."""

from __future__ import annotations

import json
import threading
import time

import httpx
import psutil

from tests.support.fake_anthropic import FakeAnthropic, Scenario


def peak_rss_while_streaming(dev_pid: int, base_url: str, fake: FakeAnthropic, text_events: int,
                             streams: int = 4) -> tuple[float, float, int]:
    """(baseline MB, peak MB, bytes streamed per answer) for `streams` concurrent answers of `text_events`."""
    process = psutil.Process(dev_pid)
    fake.set_default(Scenario.stream(text_events=text_events, event_delay=0.0))
    body = json.dumps({"model": "claude-opus-4-8", "max_tokens": 64000, "stream": True,
                       "messages": [{"role": "user", "content": "write a lot"}]})
    baseline = process.memory_info().rss
    peak = baseline
    done = threading.Event()
    sizes: list[int] = []

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, process.memory_info().rss)
            time.sleep(0.002)

    def stream() -> None:
        size = 0
        with httpx.Client(timeout=120) as client, client.stream(
                "POST", base_url + "/v1/messages", content=body, headers={"x-api-key": "k"}) as response:
            for chunk in response.iter_raw():
                size += len(chunk)
                time.sleep(0)  # a reader that keeps up, like Claude Code rendering
        sizes.append(size)

    sampler = threading.Thread(target=sample)
    sampler.start()
    workers = [threading.Thread(target=stream) for _ in range(streams)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    done.set()
    sampler.join()
    fake.set_default(None)
    return baseline / 2**20, peak / 2**20, max(sizes)
