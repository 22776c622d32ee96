"""The product's promise, end to end: the real Claude Code CLI keeps working through `overspill dev` while
its plan (the fake Anthropic) refuses every request with a plan limit — Bedrock (the fake) answers, the
breaker keeps the plan alone until the reset, and one probe goes back to the plan afterwards."""

from __future__ import annotations

import json
import time

import pytest

from overspill.bedrock.request import is_first_party_beta
from tests.e2e.conftest import start_dev, stop_dev
from tests.e2e.test_claude_code_through_dev import run_claude
from tests.support.fake_anthropic import Scenario
from tests.support.fake_bedrock import Scenario as BedrockScenario

RESET_IN_S = 20


@pytest.fixture
def limited_dev(anthropic, bedrock, tmp_path):
    reset = int(time.time() + RESET_IN_S)
    anthropic.set_default(Scenario.plan_limit(reset))
    # Claude Code 2.1.328 defaults to claude-opus-5-5, which the built-in table does not map: an admin would.
    run = start_dev(anthropic.url, tmp_path / "state", bedrock_url=bedrock.url,
                    bedrock_model_map=json.dumps({"claude-opus-5-5": "us.anthropic.claude-opus-5-5-v1:0"}))
    try:
        yield run, reset
    finally:
        anthropic.set_default(None)
        stop_dev(run)


def plan_messages(anthropic) -> list:
    return [r for r in anthropic.received if r.route_path == "/v1/messages"]


def test_claude_code_never_sees_the_plan_limit(limited_dev, anthropic, bedrock, tmp_path):
    dev, reset = limited_dev
    home = tmp_path / "home"
    home.mkdir()
    (home / "note.txt").write_text("reply with: the tool said hello\n")

    # 1. A prompt with a tool-use round trip: Bedrock asks for Read, Claude Code runs it, Bedrock answers.
    bedrock.enqueue(BedrockScenario.stream(tool_use={"name": "Read", "input": {"file_path": str(home / "note.txt")}}))
    result = run_claude(dev.base_url, home, "read note.txt", ANTHROPIC_API_KEY="sk-ant-api03-e2e",
                        extra_args=["--allowedTools", "Read"])
    assert result.returncode == 0, result.stdout + result.stderr
    answer = json.loads(result.stdout)
    assert answer["is_error"] is False, answer
    assert answer["result"] == "the tool said hello"

    assert len(plan_messages(anthropic)) == 1, "after the first 429 the plan is left alone until the reset"
    invoked = [r for r in bedrock.received if r.operation in ("invoke", "invoke-with-response-stream")]
    assert len(invoked) >= 2  # the tool_use turn and the turn with its result
    for request in invoked:
        body = request.json()
        assert "model" not in body and "stream" not in body
        assert body["anthropic_version"] == "bedrock-2023-05-31"
        assert not [beta for beta in body.get("anthropic_beta", []) if is_first_party_beta(beta)]
    follow_up = invoked[-1].json()["messages"]
    assert any(block.get("type") == "tool_result" for message in follow_up if isinstance(message["content"], list)
               for block in message["content"])

    # 2. More work before the reset: the plan is not asked.
    anthropic.clear()
    again = run_claude(dev.base_url, home, "reply with: still fine", ANTHROPIC_API_KEY="sk-ant-api03-e2e")
    assert json.loads(again.stdout)["result"] == "still fine"
    assert plan_messages(anthropic) == []

    # 3. After the reset: exactly one probe goes to the plan, which now answers; then the plan serves again.
    time.sleep(max(0.0, reset - time.time()) + 1.0)
    anthropic.set_default(None)
    anthropic.clear()
    bedrock.clear()
    back = run_claude(dev.base_url, home, "reply with: plan is back", ANTHROPIC_API_KEY="sk-ant-api03-e2e")
    assert json.loads(back.stdout)["result"] == "plan is back"
    assert len(plan_messages(anthropic)) == 1
    assert [r for r in bedrock.received if r.operation != "count-tokens"] == []


def test_sdk_stream_through_the_fallback_has_the_plans_shape(dev, anthropic, bedrock, tmp_path):
    """The real anthropic SDK against `overspill dev`: once through the plan, once through Bedrock."""
    import anthropic as anthropic_sdk

    def stream(base_url: str) -> tuple[list[str], dict, str]:
        client = anthropic_sdk.Anthropic(base_url=base_url, api_key="sk-ant-api03-e2e", max_retries=0)
        with client.messages.stream(model="claude-haiku-4-5-20251001", max_tokens=200,
                                    thinking={"type": "enabled", "budget_tokens": 100},
                                    messages=[{"role": "user", "content": "reply with: same shape"}]) as s:
            kinds = [event.type for event in s]
            return kinds, s.get_final_message().model_dump(), s.response.headers["x-overspill-route"]

    plan_kinds, plan_message, plan_route = stream(dev.base_url)
    anthropic.set_default(Scenario.plan_limit(int(time.time() + 600)))
    limited = start_dev(anthropic.url, tmp_path / "limited", bedrock_url=bedrock.url)
    try:
        bedrock_kinds, bedrock_message, bedrock_route = stream(limited.base_url)
    finally:
        anthropic.set_default(None)
        stop_dev(limited)
    assert (plan_route, bedrock_route) == ("plan", "bedrock")
    assert set(bedrock_kinds) - {"ping"} == set(plan_kinds) - {"ping"}
    assert bedrock_message.keys() == plan_message.keys()
    assert bedrock_message["model"] == plan_message["model"] == "claude-haiku-4-5-20251001"
    assert [b["type"] for b in bedrock_message["content"]] == [b["type"] for b in plan_message["content"]]
    assert bedrock_message["content"][-1]["text"] == plan_message["content"][-1]["text"] == "same shape"
    assert bedrock_message["usage"].keys() >= {"input_tokens", "output_tokens"}
