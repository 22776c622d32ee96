"""A plan_only developer (never Bedrock) whose plan is used up until a reset hours away: the real Claude Code CLI
must stop at once and say so, not retry for minutes against a limit that cannot lift in that time."""

from __future__ import annotations

import json
import time

from overspill.local.targets import local_settings
from overspill.store.models import UserModel, bind_models
from tests.e2e.conftest import start_dev, stop_dev
from tests.e2e.test_claude_code_through_dev import run_claude
from tests.support.fake_anthropic import Scenario


def test_claude_code_stops_at_once_on_a_plan_limit_when_the_developer_never_falls_back(anthropic, bedrock, tmp_path):
    anthropic.set_default(Scenario.plan_limit(int(time.time() + 3 * 3600)))
    state_dir = tmp_path / "state"
    dev = start_dev(anthropic.url, state_dir, bedrock_url=bedrock.url)
    try:
        bind_models(local_settings(state_dir))
        UserModel.get("usr_demo").update(actions=[UserModel.routing_mode.set("plan_only")])
        home = tmp_path / "home"
        home.mkdir()
        started = time.monotonic()
        result = run_claude(dev.base_url, home, "reply with: hello", ANTHROPIC_API_KEY="sk-ant-api03-e2e")
        elapsed = time.monotonic() - started
    finally:
        anthropic.set_default(None)
        stop_dev(dev)

    answer = json.loads(result.stdout)
    assert answer["is_error"] is True, answer
    messages = [r for r in anthropic.received if r.route_path == "/v1/messages"]
    assert len(messages) == 1, f"Claude Code retried the plan limit {len(messages) - 1} times in {elapsed:.0f} s"
    assert elapsed < 30, f"Claude Code took {elapsed:.0f} s"
    assert [r for r in bedrock.received if r.operation.startswith("invoke")] == []
