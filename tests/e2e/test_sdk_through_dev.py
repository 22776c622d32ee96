"""The real anthropic SDK through `overspill dev` (a subprocess) to a fake Anthropic on loopback."""

from __future__ import annotations

import anthropic as anthropic_sdk
import httpx
import pytest

from tests.e2e.conftest import SECRETS, register_key
from tests.support.claude_code_fixtures import load_all
from tests.support.fake_anthropic import Scenario


@pytest.fixture
def client(dev) -> anthropic_sdk.Anthropic:
    return anthropic_sdk.Anthropic(base_url=dev.base_url, api_key="sk-ant-api03-e2e", max_retries=0)


def test_create(client, anthropic):
    message = client.messages.create(model="claude-haiku-4-5-20251001", max_tokens=100,
                                     messages=[{"role": "user", "content": "reply with: hello overspill"}])
    assert message.content[0].text == "hello overspill"
    assert message.usage.output_tokens > 0
    assert anthropic.last_request().header("authorization") == "Bearer sk-ant-api03-e2e"


def test_stream(client):
    with client.messages.stream(model="claude-opus-4-8", max_tokens=100, thinking={"type": "adaptive"},
                                messages=[{"role": "user", "content": "reply with: streamed fine"}]) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
        assert stream.response.headers["x-overspill-route"] == "plan"
    assert text == "streamed fine"
    assert final.content[0].type == "thinking" and final.content[0].signature


def test_count_tokens(client):
    assert client.messages.count_tokens(model="claude-opus-4-8",
                                        messages=[{"role": "user", "content": "hi " * 400}]).input_tokens > 0


def test_errors_reach_the_sdk_intact(client, anthropic):
    wording = "messages.0.content: thinking block signature invalid"
    anthropic.enqueue(Scenario.error(400, "invalid_request_error", wording))
    with pytest.raises(anthropic_sdk.BadRequestError) as raised:
        client.messages.create(model="claude-opus-4-8", max_tokens=5, messages=[{"role": "user", "content": "x"}])
    assert raised.value.body["error"]["message"] == wording


def test_a_revoked_or_unknown_key_is_an_authentication_error(dev):
    unknown_key, credential, prompt = "ak_" + "N" * 43, "sk-ant-api03-e2e-refused", "reply with: never forwarded"
    register_key(unknown_key)  # refused, yet no more of it than its prefix may reach a log
    SECRETS.add("upstream credential", credential)
    SECRETS.add_text("prompt", prompt)
    bad = anthropic_sdk.Anthropic(base_url=dev.url + "/ak/" + unknown_key, api_key=credential, max_retries=0)
    with pytest.raises(anthropic_sdk.AuthenticationError) as raised:
        bad.messages.create(model="claude-opus-4-8", max_tokens=5, messages=[{"role": "user", "content": prompt}])
    assert "Overspill" in raised.value.message


@pytest.mark.parametrize("fixture", load_all(), ids=lambda f: f.name)
def test_recorded_claude_code_requests_pass_through_dev(dev, anthropic, fixture):
    response = httpx.post(dev.url + fixture.path_for_key(dev.key), content=fixture.body, headers=fixture.headers,
                          timeout=20)
    assert response.status_code == 200
    received = anthropic.last_request()
    assert received.body == fixture.body
    assert received.header("anthropic-beta") == fixture.headers["anthropic-beta"]
    assert received.header("x-claude-code-session-id") == fixture.headers["X-Claude-Code-Session-Id"]
