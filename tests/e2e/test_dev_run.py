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
        ok = httpx.post(first.base_url + "/v1/messages", headers={"x-api-key": "sk-ant-api03-e2e"},
                        json={"model": "claude-haiku-4-5-20251001", "max_tokens": 5, "messages": []})
        assert ok.status_code == 200
    finally:
        stop_dev(first)
    assert "saving state" in first.log_text()

    second = start_dev(anthropic.url, tmp_path)
    try:
        assert second.key == first.key  # the same demo key, printed again
        again = httpx.post(second.base_url + "/v1/messages", headers={"x-api-key": "sk-ant-api03-e2e"},
                           json={"model": "claude-haiku-4-5-20251001", "max_tokens": 5, "messages": []})
        assert again.status_code == 200, again.text
    finally:
        stop_dev(second)


def _saved(state_dir, request_id: str) -> bool:
    return request_id in (state_dir / "tables.json").read_text()


def _one_request(run) -> str:
    answer = httpx.post(run.base_url + "/v1/messages", headers={"x-api-key": "sk-ant-api03-e2e"},
                        json={"model": "claude-haiku-4-5-20251001", "max_tokens": 5, "messages": []})
    assert answer.status_code == 200, answer.text
    return answer.headers["x-overspill-request-id"]


def test_snapshot_every_sets_how_often_the_state_is_saved(anthropic, tmp_path):
    often = start_dev(anthropic.url, tmp_path / "often", flags=("--snapshot-every", "0.5"))
    try:
        request_id = _one_request(often)
        deadline = time.monotonic() + 5
        while not _saved(tmp_path / "often", request_id):  # saved while running, not 30 s later
            assert time.monotonic() < deadline, "no snapshot within 5 s at --snapshot-every 0.5"
            time.sleep(0.1)
        # Idle, it stops saving (each save reads every table whole) after one more interval for late writes …
        tables = tmp_path / "often" / "tables.json"
        time.sleep(1.5)
        idle_since = tables.stat().st_mtime_ns
        time.sleep(2.0)
        assert tables.stat().st_mtime_ns == idle_since, "saved again with nothing to save"
        # … and saves again once used.
        request_id = _one_request(often)
        deadline = time.monotonic() + 5
        while not _saved(tmp_path / "often", request_id):
            assert time.monotonic() < deadline, "no snapshot within 5 s of a request after an idle spell"
            time.sleep(0.1)
    finally:
        stop_dev(often)

    on_stop = start_dev(anthropic.url, tmp_path / "on-stop", flags=("--snapshot-every", "0"))
    try:
        request_id = _one_request(on_stop)
        time.sleep(1.5)
        assert not _saved(tmp_path / "on-stop", request_id)
    finally:
        stop_dev(on_stop)
    assert _saved(tmp_path / "on-stop", request_id)  # 0: saved on stop only


def test_fifty_concurrent_streams_are_served_at_once(dev, anthropic):
    anthropic.set_default(Scenario.stream(text_events=20, event_delay=0.05))  # each stream lasts ~1 s
    body = json.dumps({"model": "claude-opus-4-8", "max_tokens": 10, "stream": True,
                       "messages": [{"role": "user", "content": "hi"}]})

    def one(_: int) -> tuple[int, bool, float]:
        started = time.perf_counter()
        with httpx.Client(timeout=30) as client:
            response = client.post(dev.base_url + "/v1/messages", content=body,
                                   headers={"x-api-key": "sk-ant-api03-e2e"})
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
