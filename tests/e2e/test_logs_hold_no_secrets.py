"""The most an operator can turn logging up — Powertools' event logging and DEBUG — still writes no key,
credential, token or prompt: every function pins event logging off (an event holds the key in its path, the
developer's credential in its headers, the prompt in its body). The suite's secret scan (conftest.py) reads the
run's output; this test makes the traffic that would leak and checks the scan found nothing."""

from __future__ import annotations

import anthropic as anthropic_sdk
import httpx
import pytest

from tests.e2e.conftest import SECRETS, register_key, start_dev, stop_dev

MODEL = "claude-haiku-4-5-20251001"
CREDENTIAL = "sk-ant-api03-e2e-verbose-logging"
PROMPT = "reply with: the verbose run kept this to itself"


def test_event_logging_and_debug_level_write_no_secret(anthropic, tmp_path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("POWERTOOLS_LOGGER_LOG_EVENT", "true")
    monkeypatch.setenv("POWERTOOLS_LOG_LEVEL", "DEBUG")
    SECRETS.add("upstream credential", CREDENTIAL)
    run = start_dev(anthropic.url, tmp_path / "state")
    try:
        client = anthropic_sdk.Anthropic(base_url=run.base_url, api_key=CREDENTIAL, max_retries=0)
        answer = client.messages.create(model=MODEL, max_tokens=20, messages=[{"role": "user", "content": PROMPT}])
        assert answer.content[0].text == "the verbose run kept this to itself"
        unknown = "ak_" + "V" * 43
        register_key(unknown)
        refused = httpx.post(f"{run.url}/ak/{unknown}/v1/messages", headers={"x-api-key": CREDENTIAL},
                             json={"model": MODEL, "max_tokens": 5, "messages": [{"role": "user", "content": PROMPT}]})
        assert refused.status_code == 401
        token = "eyJraWQiOiJlMmUifQ." + "t" * 40  # refused, yet it must not be logged either
        SECRETS.add("Cognito access token", token)
        admin = httpx.get(run.url + "/api/me", headers={"Authorization": f"Bearer {token}"})
        assert admin.status_code == 401
    finally:
        stop_dev(run)
    assert "request finished" in run.log_text()  # the run did log
    leaks = SECRETS.scan_new()
    assert not leaks, "\n".join(map(str, leaks))
