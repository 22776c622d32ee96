"""A plan_only developer (never Bedrock) whose plan is used up until a reset hours away: the real Claude Code CLI
must stop at once and say so, not retry for minutes against a limit that cannot lift in that time."""

from __future__ import annotations

import json

from overspill.store.models import UserModel
from tests.e2e.limited_plan import claude_code_on_a_limited_plan


def test_claude_code_stops_at_once_on_a_plan_limit_when_the_developer_never_falls_back(anthropic, bedrock, tmp_path):
    def never_fall_back() -> None:
        UserModel.get("usr_demo").update(actions=[UserModel.routing_mode.set("plan_only")])

    result, elapsed = claude_code_on_a_limited_plan(anthropic, bedrock, tmp_path, reset_in_s=3 * 3600,
                                                    prepare=never_fall_back)

    answer = json.loads(result.stdout)
    assert answer["is_error"] is True, answer
    messages = [r for r in anthropic.received if r.route_path == "/v1/messages"]
    assert len(messages) == 1, f"Claude Code retried the plan limit {len(messages) - 1} times in {elapsed:.0f} s"
    assert elapsed < 30, f"Claude Code took {elapsed:.0f} s"
    assert [r for r in bedrock.received if r.operation.startswith("invoke")] == []
