"""`overspill dev` as a developer uses it: the export line, health, restarts, many sessions at once."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.e2e.conftest import start_dev, stop_dev
from tests.support.fake_anthropic import Scenario


def test_state_survives_a_restart(anthropic, tmp_path):
    first = start_dev(anthropic.url, tmp_path)
    try:
        assert httpx.get(first.url + "/healthz").json() == {"status": "ok"}
        ok = httpx.post(first.base_url + "/v1/messages", headers={"x-api-key": "k"},
                        json={"model": "claude-haiku-4-5-20251001", "max_tokens": 5, "messages": []})
        assert ok.status_code == 200
    finally:
        stop_dev(first)
    assert "saving state" in first.log_text()

    second = start_dev(anthropic.url, tmp_path)
    try:
        assert second.key == first.key  # the same demo key, printed again
        again = httpx.post(second.base_url + "/v1/messages", headers={"x-api-key": "k"},
                           json={"model": "claude-haiku-4-5-20251001", "max_tokens": 5, "messages": []})
        assert again.status_code == 200, again.text
    finally:
        stop_dev(second)


def test_fifty_concurrent_streams_are_served_at_once(dev, anthropic):
    anthropic.set_default(Scenario.stream(text_events=20, event_delay=0.05))  # each stream lasts ~1 s
    body = json.dumps({"model": "claude-opus-4-8", "max_tokens": 10, "stream": True,
                       "messages": [{"role": "user", "content": "hi"}]})

    def one(_: int) -> tuple[int, bool, float]:
        started = time.perf_counter()
        with httpx.Client(timeout=30) as client:
            response = client.post(dev.base_url + "/v1/messages", content=body, headers={"x-api-key": "k"})
        return response.status_code, response.text.rstrip().endswith('{"type":"message_stop"}'), \
            time.perf_counter() - started

    try:
        started = time.perf_counter()
        with ThreadPoolExecutor(50) as pool:
            results = list(pool.map(one, range(50)))
        elapsed = time.perf_counter() - started
    finally:
        anthropic.set_default(None)
    assert [status for status, _, _ in results] == [200] * 50
    assert all(complete for _, complete, _ in results)
    # Served concurrently: 50 one-second streams in far less than 50 seconds.
    assert elapsed < 10, f"50 streams took {elapsed:.1f}s"
