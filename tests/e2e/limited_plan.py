"""The real Claude Code CLI, one prompt, through a fresh `overspill dev` whose plan (the fake Anthropic) answers
every request with a plan limit — for the tests of what the developer sees when the gateway cannot go on."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from overspill.local.targets import local_settings
from overspill.store.models import bind_models
from tests.e2e.conftest import start_dev, stop_dev
from tests.e2e.test_claude_code_through_dev import run_claude
from tests.support.fake_anthropic import FakeAnthropic, Scenario
from tests.support.fake_bedrock import FakeBedrock


def claude_code_on_a_limited_plan(anthropic: FakeAnthropic, bedrock: FakeBedrock, tmp_path: Path, *,
                                  reset_in_s: float, prepare: Callable[[], None],
                                  **dev_settings: str) -> tuple[subprocess.CompletedProcess, float]:
    """``prepare`` sets up the local tables first (what an admin or the rollups would have done, on the demo user
    ``usr_demo``); returns Claude Code's result and the seconds it took."""
    anthropic.set_default(Scenario.plan_limit(int(time.time() + reset_in_s)))
    state_dir = tmp_path / "state"
    dev = start_dev(anthropic.url, state_dir, bedrock_url=bedrock.url, **dev_settings)
    try:
        bind_models(local_settings(state_dir))
        prepare()
        home = tmp_path / "home"
        home.mkdir()
        started = time.monotonic()
        result = run_claude(dev.base_url, home, "reply with: hello", ANTHROPIC_API_KEY="sk-ant-api03-e2e")
        return result, time.monotonic() - started
    finally:
        anthropic.set_default(None)
        stop_dev(dev)
