"""The admin's day through the CLI against a real `overspill dev`: create a developer, issue their key, see the
developer's request (the real anthropic SDK through the gateway) in usage, revoke the key, and the gateway
refuses it within its key cache TTL."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic as anthropic_sdk
import pytest

from tests.e2e.conftest import (
    ROOT,
    DevRun,
    capture_output,
    register_key,
    register_token_cache,
    start_dev,
    stop_dev,
)

PASSWORD = "E2e-Admin-Passw0rd!"
KEY_CACHE_TTL_S = 1.0
MODEL = "claude-haiku-4-5-20251001"


@pytest.fixture(scope="module")
def dev(anthropic, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevRun]:
    run = start_dev(anthropic.url, tmp_path_factory.mktemp("admin-cli-state"), admin_password=PASSWORD,
                    key_cache_ttl_s=str(KEY_CACHE_TTL_S))
    yield run
    stop_dev(run)


@pytest.fixture
def admin_cli(dev: DevRun, tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OVERSPILL_", "AWS_"))}
    env.update(OVERSPILL_ADMIN_URL=dev.url, OVERSPILL_ADMIN_PASSWORD=PASSWORD, XDG_CACHE_HOME=str(tmp_path))

    def run(*args: str, json_output: bool = True) -> Any:
        command = [str(ROOT / ".venv" / "bin" / "overspill"), "admin", *(["--json"] if json_output else []), *args]
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        capture_output(f"admin {' '.join(args[:2])}", done, stdout_shows_a_secret=args[:2] == ("keys", "issue"))
        register_token_cache(tmp_path)
        assert done.returncode == 0, f"{args}: {done.stderr}"
        return json.loads(done.stdout) if json_output else done.stdout

    return run


def test_create_issue_use_see_usage_revoke_refused(dev: DevRun, admin_cli):
    user = admin_cli("users", "create", "Edsger Dijkstra", "--email", "edsger@example.com", "--team", "e2e")
    issued = admin_cli("keys", "issue", user["user_id"])
    register_key(issued["key"])
    assert issued["base_url"] == f"{dev.url}/ak/{issued['key']}"
    assert "Edsger Dijkstra" in admin_cli("users", "list", "--search", "edsger", json_output=False)

    client = anthropic_sdk.Anthropic(base_url=issued["base_url"], api_key="sk-ant-api03-e2e", max_retries=0)
    answer = client.messages.create(model=MODEL, max_tokens=16,
                                    messages=[{"role": "user", "content": "reply with: counted"}])
    assert answer.content[0].text

    deadline = time.monotonic() + 15
    while True:  # the local run rolls usage up from the stream within a second or two
        top = admin_cli("usage", "top-users")
        mine = [u for u in top["users"] if u["user_id"] == user["user_id"]]
        if mine and mine[0]["requests"] == 1:
            break
        assert time.monotonic() < deadline, f"the request never showed in usage: {top}"
        time.sleep(0.5)
    assert mine[0]["name"] == "Edsger Dijkstra" and mine[0]["tokens"] > 0

    revoked = admin_cli("keys", "revoke", user["user_id"], issued["key_id"])
    assert revoked["status"] == "revoked"
    revoked_at = time.monotonic()
    while True:
        try:
            client.messages.create(model=MODEL, max_tokens=16, messages=[{"role": "user", "content": "again"}])
        except anthropic_sdk.AuthenticationError:
            break
        assert time.monotonic() - revoked_at < KEY_CACHE_TTL_S + 5, "the revoked key kept working"
        time.sleep(0.2)
    actions = [e["action"] for e in admin_cli("audit", "list", "--target-type", "key")["items"]]
    assert actions[:2] == ["key.revoke", "key.issue"]
