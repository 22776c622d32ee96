"""The real Claude Code CLI (npm @anthropic-ai/claude-code) through `overspill dev` to a fake Anthropic.

A TCP tee between Claude Code and the gateway records what Claude Code really put on the wire, so the test
can prove that Anthropic received the very same bytes and headers.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.support.tcp_tee import TcpTee

ROOT = Path(__file__).resolve().parents[2]
CLAUDE = ROOT / "tests" / "e2e" / "node_modules" / ".bin" / "claude"


def run_claude(base_url: str, home: Path, prompt: str, *, extra_args: list[str] | None = None,
               **extra_env: str) -> subprocess.CompletedProcess:
    assert CLAUDE.exists(), "Claude Code is not installed: run `make test` (npm ci --prefix tests/e2e)"
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "ANTHROPIC_BASE_URL": base_url,
        "DISABLE_TELEMETRY": "1",
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
        "DISABLE_AUTOUPDATER": "1",
        "DISABLE_ERROR_REPORTING": "1",
        **extra_env,
    }
    command = [str(CLAUDE), "-p", prompt, "--output-format", "json", *(extra_args or [])]
    return subprocess.run(command, env=env, cwd=home, capture_output=True, text=True, timeout=120)


@pytest.fixture
def tee(dev):
    port = int(dev.url.rsplit(":", 1)[1])
    tee = TcpTee(port)
    yield tee
    tee.close()


@pytest.mark.parametrize("credential", ["api_key", "auth_token"])
def test_claude_code_answers_through_overspill_and_anthropic_sees_its_exact_bytes(dev, anthropic, tee, tmp_path,
                                                                                credential):
    env = ({"ANTHROPIC_API_KEY": "sk-ant-api03-e2e-secret"} if credential == "api_key"
           else {"ANTHROPIC_AUTH_TOKEN": "sk-ant-e2e-bearer-secret"})
    result = run_claude(f"{tee.url}/ak/{dev.key}", tmp_path, "reply with: overspill says hi", **env)
    assert result.returncode == 0, result.stdout + result.stderr
    answer = json.loads(result.stdout)
    assert answer["is_error"] is False
    assert answer["result"] == "overspill says hi"

    sent = [r for r in tee.requests() if r.method == "POST" and "/v1/messages" in r.target
            and "count_tokens" not in r.target]
    received = [r for r in anthropic.received if r.route_path == "/v1/messages"]
    assert sent, "the tee saw no Messages request from Claude Code"
    assert [r.body for r in sent] == [r.body for r in received]
    for seen, got in zip(sent, received, strict=True):
        assert seen.target.startswith(f"/ak/{dev.key}/v1/messages")
        assert got.path == seen.target.removeprefix(f"/ak/{dev.key}")
        for name in ("anthropic-beta", "anthropic-version", "x-claude-code-session-id", "x-api-key",
                     "authorization", "user-agent"):
            assert got.header(name) == seen.header(name), name
        assert got.header("x-claude-code-session-id")
        if credential == "api_key":
            assert got.header("x-api-key") == "sk-ant-api03-e2e-secret"
        else:
            assert got.header("authorization") == "Bearer sk-ant-e2e-bearer-secret"
    log = dev.log_text()
    assert "sk-ant-api03-e2e-secret" not in log and "sk-ant-e2e-bearer-secret" not in log
    assert dev.key not in log.split("export ANTHROPIC_BASE_URL=", 1)[-1].split("\n", 1)[1]
    assert "overspill says hi" not in log


def test_claude_code_shows_overspills_message_for_a_bad_key(dev, tmp_path):
    result = run_claude(f"{dev.url}/ak/ak_{'R' * 43}", tmp_path, "hello", ANTHROPIC_API_KEY="sk-ant-api03-x")
    output = result.stdout + result.stderr
    assert result.returncode != 0 or json.loads(result.stdout)["is_error"]
    assert "Overspill rejected this access key" in output
