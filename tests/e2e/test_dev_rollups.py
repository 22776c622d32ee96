"""Rollups in a real `overspill dev`: a request shows in its user's day within seconds, and `overspill rollups
rebuild` repairs a damaged day of the running instance."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from overspill.local.targets import local_settings
from overspill.store.models import UsageRollupModel, bind_models
from overspill.store.rollups import RollupRepository
from overspill.store.usage import UsageRepository
from overspill.usage.rollups import Kind, RollupKey
from tests.e2e.conftest import ROOT, DevRun, capture_output, start_dev, stop_dev
from tests.integration.test_rollup_function import usage_event

MODEL = "claude-haiku-4-5-20251001"


@pytest.fixture(scope="module")
def rollup_dev(anthropic, tmp_path_factory) -> Iterator[tuple[DevRun, Path]]:
    state_dir = tmp_path_factory.mktemp("rollups-state")
    run = start_dev(anthropic.url, state_dir)
    yield run, state_dir
    stop_dev(run)


@pytest.fixture
def dev_tables(rollup_dev, monkeypatch) -> Path:
    """This test process bound to the dev run's tables (through its runtime.json), with moto's credentials."""
    _, state_dir = rollup_dev
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "overspill-local")  # restored after the test; local_settings sets them too
    bind_models(local_settings(state_dir))
    return state_dir


def wait_for_row(pk: str, sk: str, requests: int, timeout_s: float = 5.0) -> UsageRollupModel:
    deadline = time.monotonic() + timeout_s
    while True:
        rows = list(UsageRollupModel.query(pk, UsageRollupModel.sk == sk, consistent_read=True))
        if rows and rows[0].requests == requests:
            return rows[0]
        if time.monotonic() > deadline:
            raise AssertionError(f"no rollup {pk} {sk} with {requests} request(s) within {timeout_s}s: {rows}")
        time.sleep(0.1)


def rollups_cli(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OVERSPILL_", "AWS_"))}
    code = "from overspill.usage.rollup_command import rollups_command; rollups_command()"
    done = subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "-c", code, *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    capture_output("overspill rollups", done)
    return done


def test_a_request_shows_in_its_users_day_rollup_within_seconds(rollup_dev, dev_tables):
    run, _ = rollup_dev
    response = httpx.post(run.base_url + "/v1/messages", headers={"x-api-key": "sk-ant-api03-e2e"},
                          json={"model": MODEL, "max_tokens": 5,
                                "messages": [{"role": "user", "content": "reply with: counted"}]}, timeout=20)
    assert response.status_code == 200, response.text
    started = time.monotonic()

    day = datetime.now(UTC).strftime("%Y-%m-%d")
    key = RollupKey(Kind.USER_DAY, day, user_id="usr_demo", model=MODEL, route="plan")
    row = wait_for_row(key.pk, key.sk, requests=1)
    assert time.monotonic() - started < 5
    assert row.output_tokens == response.json()["usage"]["output_tokens"]
    assert row.team == "demo" and row.cost_usd > 0
    month = RollupRepository().month_by_route("user#usr_demo", day[:7])
    assert month["plan"].requests >= 1


def test_the_rebuild_command_repairs_a_damaged_day_of_the_running_instance(rollup_dev, dev_tables):
    _, state_dir = rollup_dev
    day = (datetime.now(UTC) - timedelta(days=3)).replace(hour=10, minute=0, second=0, microsecond=0)
    events = [usage_event(n, occurred_at=day + timedelta(minutes=n), user_id="usr_rebuild", team="qa",
                          request_id=f"e2e-rebuild-{n}") for n in range(3)]
    usage = UsageRepository(retention=timedelta(days=400))
    for event in events:
        assert usage.record(event)
    key = RollupKey(Kind.USER_DAY, day.strftime("%Y-%m-%d"), user_id="usr_rebuild", model=events[0].model,
                    route="plan")
    wait_for_row(key.pk, key.sk, requests=3)  # the stream got them there

    UsageRollupModel(key.pk, key.sk).delete()                                   # damage: a lost row
    month_key = RollupKey(Kind.USER_MONTH, day.strftime("%Y-%m"), user_id="usr_rebuild", route="plan")
    UsageRollupModel(month_key.pk, month_key.sk).update(actions=[UsageRollupModel.requests.set(99)])

    result = rollups_cli("rebuild", "--from", day.strftime("%Y-%m-%d"), "--to", day.strftime("%Y-%m-%d"),
                         "--state-dir", str(state_dir))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 day(s), 3 event(s) counted" in result.stdout
    assert wait_for_row(key.pk, key.sk, requests=3, timeout_s=0).cost_usd == sum(e.cost_usd for e in events)
    assert wait_for_row(month_key.pk, month_key.sk, requests=3, timeout_s=0)

    today = datetime.now(UTC).strftime("%Y-%m-%d")
    refused = rollups_cli("rebuild", "--from", today, "--to", today, "--state-dir", str(state_dir))
    assert refused.returncode == 2 and f"{today} has not ended yet" in refused.stderr


def test_no_rollups_writes_usage_events_but_leaves_the_rollups_alone(anthropic, tmp_path, monkeypatch):
    run = start_dev(anthropic.url, tmp_path, flags=("--no-rollups",))
    try:
        assert "Rollups are off (--no-rollups)" in run.log_text()
        response = httpx.post(run.base_url + "/v1/messages", headers={"x-api-key": "sk-ant-api03-e2e"},
                              json={"model": MODEL, "max_tokens": 5,
                                    "messages": [{"role": "user", "content": "reply with: not rolled up"}]},
                              timeout=20)
        assert response.status_code == 200, response.text
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            monkeypatch.setenv(name, "overspill-local")
        bind_models(local_settings(tmp_path))
        request_id = response.headers["x-overspill-request-id"]
        deadline = time.monotonic() + 5
        while UsageRepository(retention=timedelta(days=1)).get(request_id) is None:
            assert time.monotonic() < deadline, "no usage event for the request"
            time.sleep(0.1)
        time.sleep(2)  # the poller, were it running, delivers within a second (0.5 s polls)
        day = datetime.now(UTC).strftime("%Y-%m-%d")
        key = RollupKey(Kind.USER_DAY, day, user_id="usr_demo", model=MODEL, route="plan")
        assert list(UsageRollupModel.query(key.pk, UsageRollupModel.sk == key.sk, consistent_read=True)) == []
    finally:
        stop_dev(run)
