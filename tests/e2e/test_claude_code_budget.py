"""A developer whose Bedrock budget is used up, with their plan rate-limited: the real Claude Code CLI must stop
at once with a message naming the budget, not retry for minutes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

from overspill.store.models import UsageRollupModel, UserModel
from overspill.usage.rollups import Kind, RollupKey
from tests.e2e.limited_plan import claude_code_on_a_limited_plan


def test_claude_code_stops_at_once_when_the_budget_is_used_up(anthropic, bedrock, tmp_path):
    def spent_past_the_budget() -> None:
        # What an admin and the rollups would have done: a $25 budget, $25.40 of Bedrock spent this month.
        UserModel.get("usr_demo").update(actions=[UserModel.budget_usd.set(Decimal("25"))])
        month = datetime.now(UTC).strftime("%Y-%m")
        key = RollupKey(Kind.USER_MONTH, month, user_id="usr_demo", route="bedrock")
        UsageRollupModel(key.pk, key.sk, kind=str(key.kind), kind_period=key.kind_period, period=month,
                         user_id="usr_demo", route="bedrock", requests=40, cost_usd=Decimal("25.40")).save()

    # Claude Code 2.1.328 defaults to claude-opus-5-5, which the built-in table does not map: an admin would.
    result, elapsed = claude_code_on_a_limited_plan(
        anthropic, bedrock, tmp_path, reset_in_s=3600, prepare=spent_past_the_budget,
        bedrock_model_map=json.dumps({"claude-opus-5-5": "us.anthropic.claude-opus-5-5-v1:0"}))

    answer = json.loads(result.stdout)
    assert answer["is_error"] is True, answer
    assert "monthly Bedrock budget of $25.00 is used up ($25.40 spent" in answer["result"]
    assert "budget resets on" in answer["result"]
    # Stopped at once: no retries of the refused request (Claude Code retries for minutes when it may).
    assert elapsed < 30, f"Claude Code took {elapsed:.0f} s"
    messages = [r for r in anthropic.received if r.route_path == "/v1/messages"]
    assert len(messages) == 1, "the breaker keeps the limited plan alone after its first 429"
    assert [r for r in bedrock.received if r.operation.startswith("invoke")] == []
