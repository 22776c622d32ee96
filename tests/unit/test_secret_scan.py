"""The e2e suite's secret scan (tests/support/secret_scan.py) can fail: a secret planted in a captured log is
reported, in whatever shape a log would hold it, and what the product may print is not."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

import pytest

from overspill.keys import DISPLAY_PREFIX_CHARS, generate_key
from tests.support.secret_scan import Secret, SecretRegistry, conversation_texts, scan_text

KEY = generate_key(b"p" * 48).plain
LOG_LINE = '{"level":"INFO","message":"request finished","key_prefix":"%s","status":200}'


def registry_with_log(tmp_path: Path, text: str) -> tuple[SecretRegistry, Path]:
    registry = SecretRegistry()
    log = tmp_path / "overspill-dev.log"
    log.write_text(text)
    registry.capture(log, "overspill dev")
    return registry, log


def test_a_key_planted_in_a_captured_log_is_reported_with_its_file_and_line(tmp_path):
    registry, log = registry_with_log(tmp_path, "started\n" + LOG_LINE % KEY + "\n")
    registry.add("access key", KEY, visible_prefix=DISPLAY_PREFIX_CHARS)

    [leak] = registry.scan_new()
    assert (leak.source, leak.line, leak.secret.kind) == (f"{log} (overspill dev)", 2, "access key")
    assert KEY not in str(leak)  # the report names the secret's kind, never the secret


def test_the_display_prefix_may_appear_but_one_character_more_may_not(tmp_path):
    prefix_only = LOG_LINE % KEY[:DISPLAY_PREFIX_CHARS]
    two_more = LOG_LINE % KEY[:DISPLAY_PREFIX_CHARS + 2]
    key = Secret("access key", KEY, DISPLAY_PREFIX_CHARS)
    assert scan_text(prefix_only, [key]) == []
    assert [leak.line for leak in scan_text(prefix_only + "\n" + two_more, [key])] == [2]


@pytest.mark.parametrize("shape", ["middle", "json", "url", "path"])
def test_a_credential_is_found_cut_short_escaped_or_encoded(shape):
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    written = {"middle": secret[14:30], "json": json.dumps({"s": secret}).replace("/", "\\/"),
               "url": "GET /creds?secret=" + quote(secret, safe=""), "path": f"/ak/{KEY}/v1/messages"}[shape]
    secrets = [Secret("Bedrock secret access key", secret), Secret("access key", KEY, DISPLAY_PREFIX_CHARS)]
    assert len(scan_text(f"log: {written}", secrets)) == 1


def test_a_prompt_is_found_in_a_logged_body_and_a_completion_in_a_logged_event():
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "line one\nreply with: zebra fortune"}]})
    texts = dict((kind, text) for kind, text in conversation_texts(body.encode()))
    assert texts == {"prompt": "line one\nreply with: zebra fortune", "completion": "zebra fortune"}
    registry = SecretRegistry()
    registry.add_request(body.encode(), [("x-api-key", "sk-ant-api03-planted"), ("authorization", "Bearer short")])
    secrets = registry.secrets()
    assert {s.kind for s in secrets} == {"prompt", "completion", "upstream credential"}

    logged_body = f'{{"message":"bad request","body":{json.dumps(body)}}}'  # escaped twice over
    logged_delta = '{"message":"event","delta":{"text":"zebra fortune"}}'
    assert {leak.secret.kind for leak in scan_text(logged_body, secrets)} == {"prompt", "completion"}
    assert [leak.secret.kind for leak in scan_text(logged_delta, secrets)] == ["completion"]


def test_claude_codes_context_blocks_are_not_registered_as_prompts():
    """They hold the working directory, which logs name too (the state directory beside it)."""
    body = {"messages": [{"role": "user", "content": [
        {"type": "text", "text": "<system-reminder>\nWorking directory: /tmp/pytest/home\n</system-reminder>"},
        {"type": "text", "text": "read note.txt please"},
        {"type": "tool_result", "tool_use_id": "t", "content": [{"type": "text", "text": "the note's text here"}]},
    ]}, {"role": "assistant", "content": [{"type": "text", "text": "an earlier answer"}]}]}
    assert sorted(conversation_texts(json.dumps(body).encode())) == [
        ("completion", "an earlier answer"), ("prompt", "read note.txt please"),
        ("prompt", "the note's text here")]


def test_a_line_shown_once_on_purpose_is_allowed_once(tmp_path):
    export = f"export ANTHROPIC_BASE_URL=http://127.0.0.1:8080/ak/{KEY}\n"
    registry, log = registry_with_log(tmp_path, "banner\n" + export)
    registry.capture(log, "overspill dev", shown_once=[export])
    registry.add("access key", KEY, visible_prefix=DISPLAY_PREFIX_CHARS)
    assert registry.scan_new() == []

    with log.open("a") as handle:
        handle.write(export)  # printed a second time: a leak
    assert [leak.line for leak in registry.scan_new()] == [3]
    assert [leak.line for leak in registry.scan_all()] == [3]


def test_each_scan_reports_only_lines_written_since_the_last_and_the_session_scan_sees_late_secrets(tmp_path):
    registry, log = registry_with_log(tmp_path, "one\n")
    assert registry.scan_new() == []
    with log.open("a") as handle:
        handle.write(f"two {KEY}\nthree (half a line, still being written) {KEY}")
    assert registry.scan_new() == []  # the key was not registered yet when the test ended
    registry.add("access key", KEY, visible_prefix=DISPLAY_PREFIX_CHARS)
    assert registry.scan_new() == []  # line 2 was scanned already; line 3 is not finished
    with log.open("a") as handle:
        handle.write("\n")
    assert [leak.line for leak in registry.scan_new()] == [3]
    assert [leak.line for leak in registry.scan_all()] == [2, 3]


def test_a_secret_too_short_to_look_for_is_refused_not_silently_ignored():
    with pytest.raises(ValueError, match="cannot be scanned for"):
        SecretRegistry().add("password", "short")
    assert SecretRegistry().add_text("prompt", "hi") is False


def test_a_public_path_inside_a_prompt_is_not_looked_for_but_the_rest_of_the_line_is():
    """Claude Code tells the model its working directory; logs name the state directory beside it."""
    prompt = Secret("prompt", "# Environment\n - Primary working directory: /var/pytest-of-me/pytest-7/"
                              "test_a_rather_long_test_name0/home\n"
                              " - Is a git repository: false, and this line is long enough to be looked for")
    banner = "Overspill is running (state in /var/pytest-of-me/pytest-7/test_a_rather_long_test_name0/state)"
    public = ["/var/pytest-of-me/pytest-7"]
    assert len(scan_text(banner, [prompt])) == 1  # without it: the shared path looks like a leak
    assert scan_text(banner, [prompt], public=public) == []
    assert len(scan_text("body: Is a git repository: false, and this line", [prompt], public=public)) == 1
