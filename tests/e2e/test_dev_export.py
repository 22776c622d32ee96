"""`overspill export` against a real `overspill dev`: a request made through the gateway shows up in the files
written to the local directory and to the local run's exports bucket."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import httpx
import pytest

from tests.e2e.conftest import ROOT, capture_output, start_dev, stop_dev

# The command is not registered under `overspill` here; run its click object as the console script would.
EXPORT = [sys.executable, "-c", "from overspill.exports.command import export_command; export_command()"]


def run_export(*args: str) -> subprocess.CompletedProcess:
    done = subprocess.run([*EXPORT, *args], cwd=ROOT, capture_output=True, text=True, timeout=120)
    capture_output("overspill export", done)
    return done


@pytest.fixture
def dev_with_state(anthropic, tmp_path):
    state = tmp_path / "state"
    run = start_dev(anthropic.url, state)
    yield run, state
    stop_dev(run)


def exports_bucket(state: Path):
    environment = json.loads((state / "runtime.json").read_text())["environment"]
    s3 = boto3.client("s3", endpoint_url=environment["OVERSPILL_AWS_ENDPOINT_URL"], region_name="us-east-1",
                      aws_access_key_id="overspill-local", aws_secret_access_key="overspill-local")
    return s3, environment["OVERSPILL_EXPORTS_BUCKET"]


def test_a_request_through_dev_is_in_todays_export_in_the_directory_and_the_bucket(dev_with_state, tmp_path):
    dev, state = dev_with_state
    answer = httpx.post(dev.base_url + "/v1/messages", headers={"x-api-key": "sk-ant-api03-e2e-export"}, timeout=20,
                        json={"model": "claude-haiku-4-5-20251001", "max_tokens": 20,
                              "messages": [{"role": "user", "content": "reply with: exported"}]})
    assert answer.status_code == 200, answer.text
    today = datetime.now(UTC).date().isoformat()
    out = tmp_path / "out"
    csv_key = f"usage/daily/dt={today}/usage-{today}.csv"

    # The usage event is written just after the response closed; exporting again is how it is picked up.
    deadline = time.monotonic() + 15
    while True:
        result = run_export("--from", today, "--to", today, "--out", str(out), "--state-dir", str(state))
        assert result.returncode == 0, result.stdout + result.stderr
        rows = list(csv.DictReader(io.StringIO((out / csv_key).read_bytes().decode("utf-8"), newline="")))
        if rows or time.monotonic() > deadline:
            break
        time.sleep(0.5)

    [row] = rows
    assert (row["date"], row["user_id"], row["user_name"], row["team"], row["model"], row["route"]) == (
        today, "usr_demo", "Demo Developer", "demo", "claude-haiku-4-5-20251001", "plan")
    assert row["requests"] == "1" and row["errors"] == "0" and int(row["output_tokens"]) > 0
    assert "1 daily and 0 monthly file(s)" in result.stdout and "not final yet" in result.stdout

    s3, bucket = exports_bucket(state)
    assert s3.get_object(Bucket=bucket, Key=csv_key)["Body"].read() == (out / csv_key).read_bytes()
    manifest = json.loads(s3.get_object(Bucket=bucket, Key=f"manifests/daily/dt={today}.json")["Body"].read())
    assert manifest == json.loads((out / f"manifests/daily/dt={today}.json").read_text())
    assert manifest["row_count"] == 1 and manifest["complete"] is False  # today has not ended


def test_a_refused_range_says_why_and_writes_nothing(dev_with_state, tmp_path):
    _, state = dev_with_state
    tomorrow = (datetime.now(UTC).date() + timedelta(days=1)).isoformat()
    out = tmp_path / "out"

    future = run_export("--from", tomorrow, "--to", tomorrow, "--out", str(out), "--state-dir", str(state))
    malformed = run_export("--from", "01/02/2026", "--to", tomorrow, "--out", str(out), "--state-dir", str(state))

    assert future.returncode != 0 and "the range ends in the future" in future.stderr
    assert malformed.returncode != 0 and "'01/02/2026' is not a date written YYYY-MM-DD" in malformed.stderr
    assert not out.exists()
    s3, bucket = exports_bucket(state)
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_without_a_running_dev_the_command_says_how_to_start_one(tmp_path):
    result = run_export("--from", "2026-01-01", "--to", "2026-01-01", "--out", str(tmp_path / "out"),
                        "--state-dir", str(tmp_path / "nothing-here"))
    assert result.returncode != 0 and "no running `overspill dev`" in result.stderr
    assert not (tmp_path / "out").exists()
