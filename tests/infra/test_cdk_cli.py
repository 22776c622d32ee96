"""`cdk synth` with the real aws-cdk CLI (2.x, installed by `make test` from tests/e2e/package.json), as an
operator runs it: the app synthesises with cdk-nag's checks passing, and a bad context value stops it with a
message naming the key."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CDK = ROOT / "tests" / "e2e" / "node_modules" / ".bin" / "cdk"


def cdk(*args: str, out: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
           "CDK_DISABLE_CLI_TELEMETRY": "true", "CI": "true"}
    return subprocess.run([str(CDK), "synth", "--quiet", "--no-notices", "--no-version-reporting",
                           "--output", str(out), *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def cli() -> Path:
    assert CDK.exists(), "the aws-cdk CLI is missing: `make test` installs it (npm ci in tests/e2e)"
    return CDK


def test_cdk_synth_produces_the_stack_with_every_check_passing(cli: Path, tmp_path: Path):
    done = cdk("-c", "stage=clitest", out=tmp_path)
    assert done.returncode == 0, done.stderr[-4000:]
    template = json.loads((tmp_path / "Overspill-clitest.template.json").read_text())
    types = {r["Type"] for r in template["Resources"].values()}
    assert {"AWS::Lambda::Url", "AWS::CloudFront::Distribution", "AWS::Cognito::UserPool",
            "AWS::DynamoDB::GlobalTable"} <= types
    assert "AwsSolutions" not in done.stdout + done.stderr  # no finding reported


def test_a_bad_context_value_stops_the_synth_naming_the_key(cli: Path, tmp_path: Path):
    done = cdk("-c", "stage=clitest", "-c", "proxyMemoryMb=lots", out=tmp_path)
    assert done.returncode != 0
    assert "proxyMemoryMb" in done.stdout + done.stderr
